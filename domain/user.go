package domain

import (
	"slices"
	"strings"
	"time"
)

// User is a person with a smartcard.
type User struct {
	ID         UserID
	Title      string
	GivenName  string
	FamilyName string
	Email      string // work address on record
	Photo      []byte // PNG, shown to operators for the identity check
	CreatedAt  time.Time
}

// DisplayName is how screens and emails address the user.
func (u User) DisplayName() string {
	return strings.Join(strings.Fields(u.Title+" "+u.GivenName+" "+u.FamilyName), " ")
}

// ActivityCode is an RBAC activity such as B1300; positions carry them.
type ActivityCode string

// Activity codes that grant smartcard services (seeds 000–002).
const (
	ActivitySponsor       ActivityCode = "B1300"
	ActivityLocalSCA      ActivityCode = "B0263" // Local Smartcard Administrator
	ActivityRAAIDChecker  ActivityCode = "B0267" // RAA ID Checker: Repair Smartcard
	ActivityBasicUserRole ActivityCode = "B0001"
)

// Position is a role a user holds in an organisation; an operator picks one
// as the session role at log-in.
type Position struct {
	ID            int64
	UserID        UserID
	OrgCode       string
	OrgName       string
	RoleName      string
	ActivityCodes []ActivityCode
}

// Has reports whether the position grants the activity.
func (p Position) Has(code ActivityCode) bool {
	return slices.Contains(p.ActivityCodes, code)
}

// Service is a smartcard service an operator can perform.
type Service string

const (
	ServiceUnlock          Service = "Unlock Smartcard"
	ServiceRepair          Service = "Repair Smartcard"
	ServiceAssistedRenewal Service = "Assisted renewal"
	ServiceCancel          Service = "Cancel Smartcard"
	ServiceClearLockOut    Service = "Clear self-service lock-out"
	ServiceAuditTrail      Service = "View audit trail"
)

// serviceActivities says which activity codes allow each service
// (DESIGN.md), in menu order.
var serviceActivities = []struct {
	service Service
	codes   []ActivityCode
}{
	{ServiceUnlock, []ActivityCode{ActivitySponsor, ActivityLocalSCA}},
	{ServiceRepair, []ActivityCode{ActivityRAAIDChecker}},
	{ServiceAssistedRenewal, []ActivityCode{ActivitySponsor, ActivityLocalSCA}},
	{ServiceCancel, []ActivityCode{ActivitySponsor, ActivityLocalSCA, ActivityRAAIDChecker}},
	{ServiceClearLockOut, []ActivityCode{ActivitySponsor, ActivityLocalSCA}},
	{ServiceAuditTrail, []ActivityCode{ActivitySponsor, ActivityLocalSCA, ActivityRAAIDChecker}},
}

// Services lists, in menu order, the services a session role allows.
func (p Position) Services() []Service {
	var out []Service
	for _, sa := range serviceActivities {
		if slices.ContainsFunc(sa.codes, p.Has) {
			out = append(out, sa.service)
		}
	}
	return out
}

// Allows reports whether the session role may perform the service.
func (p Position) Allows(s Service) bool {
	return slices.Contains(p.Services(), s)
}

// IsOperator reports whether the position grants any smartcard service.
func (p Position) IsOperator() bool { return len(p.Services()) > 0 }
