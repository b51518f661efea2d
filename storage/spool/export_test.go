package spool

// StaleTmp is staleTmp, for the external tests.
const StaleTmp = staleTmp
