package piv

import "fmt"

// Slot is a PIV key slot: its key reference and the data object that holds
// its certificate.
type Slot struct {
	Key    byte
	Object uint32
}

// The four standard key slots (SP 800-73-4 Part 1, table 4b).
var (
	SlotAuthentication     = Slot{Key: 0x9A, Object: ObjectPIVAuthCert}
	SlotSignature          = Slot{Key: 0x9C, Object: ObjectSignatureCert}
	SlotKeyManagement      = Slot{Key: 0x9D, Object: ObjectKeyMgmtCert}
	SlotCardAuthentication = Slot{Key: 0x9E, Object: ObjectCardAuthCert}
)

func (s Slot) String() string { return fmt.Sprintf("%02X", s.Key) }
