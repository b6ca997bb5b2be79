package auditlog

// Key names a field armorer knows. Fields with other names are kept too
// (see Event.Fields and Event.Lookup); a Key only gives fast access.
type Key uint8

// Known keys. Their String is the name used in JSON output, which is the
// kernel's own name, except that newer kernels' requested= and denied= are
// reported as requested_mask and denied_mask.
const (
	KeyNone Key = iota
	KeyApparmor
	KeyOperation
	KeyClass
	KeyInfo
	KeyError
	KeyProfile
	KeyLabel
	KeyName
	KeyName2
	KeyComm
	KeyPID
	KeyRequestedMask
	KeyDeniedMask
	KeyFSUID
	KeyOUID
	KeyTarget
	KeyParent
	KeyCapability
	KeyCapname
	KeyFamily
	KeySockType
	KeyProtocol
	KeyAddr
	KeyPeerAddr
	KeyLaddr
	KeyLport
	KeyFaddr
	KeyFport
	KeySignal
	KeyPeer
	KeyPeerPID
	KeyPeerLabel
	KeyPeerProfile
	KeyNamespace
	KeyBus
	KeyPath
	KeyInterface
	KeyMember
	KeyMask
	KeyFstype
	KeyFlags
	KeySrcname
	KeyExe
	KeyAuid
	KeySes
	KeyUID
	KeyAttribute
	KeyExecpath
	numKeys
)

// keyInfo describes how a known key's value is read.
type keyInfo struct {
	name string // JSON / kernel name
	// hex: the kernel writes this value with audit_log_untrustedstring, so an
	// unquoted value made of hex digits is hex-encoded.
	hex bool
	// intern: few distinct values; Event.String returns a shared copy.
	intern bool
}

var keyInfos = [numKeys]keyInfo{
	KeyApparmor:      {name: "apparmor", intern: true},
	KeyOperation:     {name: "operation", intern: true},
	KeyClass:         {name: "class", intern: true},
	KeyInfo:          {name: "info", intern: true},
	KeyError:         {name: "error", intern: true},
	KeyProfile:       {name: "profile", hex: true, intern: true},
	KeyLabel:         {name: "label", hex: true, intern: true},
	KeyName:          {name: "name", hex: true},
	KeyName2:         {name: "name2", hex: true},
	KeyComm:          {name: "comm", hex: true, intern: true},
	KeyPID:           {name: "pid"},
	KeyRequestedMask: {name: "requested_mask", intern: true},
	KeyDeniedMask:    {name: "denied_mask", intern: true},
	KeyFSUID:         {name: "fsuid", intern: true},
	KeyOUID:          {name: "ouid", intern: true},
	KeyTarget:        {name: "target", hex: true, intern: true},
	KeyParent:        {name: "parent"},
	KeyCapability:    {name: "capability", intern: true},
	KeyCapname:       {name: "capname", intern: true},
	KeyFamily:        {name: "family", intern: true},
	KeySockType:      {name: "sock_type", intern: true},
	KeyProtocol:      {name: "protocol", intern: true},
	KeyAddr:          {name: "addr", hex: true},
	KeyPeerAddr:      {name: "peer_addr", hex: true},
	KeyLaddr:         {name: "laddr"},
	KeyLport:         {name: "lport"},
	KeyFaddr:         {name: "faddr"},
	KeyFport:         {name: "fport"},
	KeySignal:        {name: "signal", intern: true},
	KeyPeer:          {name: "peer", hex: true, intern: true},
	KeyPeerPID:       {name: "peer_pid"},
	KeyPeerLabel:     {name: "peer_label", hex: true, intern: true},
	KeyPeerProfile:   {name: "peer_profile", hex: true, intern: true},
	KeyNamespace:     {name: "namespace", hex: true, intern: true},
	KeyBus:           {name: "bus", intern: true},
	KeyPath:          {name: "path"},
	KeyInterface:     {name: "interface", intern: true},
	KeyMember:        {name: "member", intern: true},
	KeyMask:          {name: "mask", intern: true},
	KeyFstype:        {name: "fstype", hex: true, intern: true},
	KeyFlags:         {name: "flags", intern: true},
	KeySrcname:       {name: "srcname", hex: true},
	KeyExe:           {name: "exe", hex: true, intern: true},
	KeyAuid:          {name: "auid", intern: true},
	KeySes:           {name: "ses"},
	KeyUID:           {name: "uid", intern: true},
	KeyAttribute:     {name: "attribute", intern: true},
	KeyExecpath:      {name: "execpath", hex: true},
}

// String returns the key's JSON name, or "" for KeyNone.
func (k Key) String() string {
	if k >= numKeys {
		return ""
	}
	return keyInfos[k].name
}

// lookupKey maps a key as written in a log line to a known Key. switch on
// string(b) compiles to comparisons on the bytes and does not allocate.
func lookupKey(b []byte) Key {
	switch string(b) {
	case "apparmor":
		return KeyApparmor
	case "operation":
		return KeyOperation
	case "class":
		return KeyClass
	case "info":
		return KeyInfo
	case "error":
		return KeyError
	case "profile":
		return KeyProfile
	case "label":
		return KeyLabel
	case "name":
		return KeyName
	case "name2":
		return KeyName2
	case "comm":
		return KeyComm
	case "pid":
		return KeyPID
	case "requested_mask", "requested":
		return KeyRequestedMask
	case "denied_mask", "denied":
		return KeyDeniedMask
	case "fsuid":
		return KeyFSUID
	case "ouid":
		return KeyOUID
	case "target":
		return KeyTarget
	case "parent":
		return KeyParent
	case "capability":
		return KeyCapability
	case "capname":
		return KeyCapname
	case "family":
		return KeyFamily
	case "sock_type":
		return KeySockType
	case "protocol":
		return KeyProtocol
	case "addr":
		return KeyAddr
	case "peer_addr":
		return KeyPeerAddr
	case "laddr":
		return KeyLaddr
	case "lport":
		return KeyLport
	case "faddr":
		return KeyFaddr
	case "fport":
		return KeyFport
	case "signal":
		return KeySignal
	case "peer":
		return KeyPeer
	case "peer_pid":
		return KeyPeerPID
	case "peer_label":
		return KeyPeerLabel
	case "peer_profile":
		return KeyPeerProfile
	case "namespace":
		return KeyNamespace
	case "bus":
		return KeyBus
	case "path":
		return KeyPath
	case "interface":
		return KeyInterface
	case "member":
		return KeyMember
	case "mask":
		return KeyMask
	case "fstype":
		return KeyFstype
	case "flags":
		return KeyFlags
	case "srcname":
		return KeySrcname
	case "exe":
		return KeyExe
	case "auid":
		return KeyAuid
	case "ses":
		return KeySes
	case "uid":
		return KeyUID
	case "attribute":
		return KeyAttribute
	case "execpath":
		return KeyExecpath
	}
	return KeyNone
}

// Record types (the kernel's audit message type numbers) that carry
// AppArmor events.
const (
	TypeUserAVC   = 1107
	TypeAVC       = 1400
	typeAAFirst   = 1500 // AUDIT_APPARMOR_AUDIT .. AUDIT_APPARMOR_KILL, old kernels
	typeAALast    = 1599
	typeConfigChg = 1305
)

// recordTypeNumber maps an audit record type name to its number, 0 if
// unknown. Names appear in auditd's log and journald's short output.
func recordTypeNumber(b []byte) uint16 {
	if len(b) > 0 && b[0]-'0' <= 9 { // printk and kmsg write the number: no name to try
		if len(b) == 4 && allDigits4(b) {
			return uint16(b[0]-'0')*1000 + uint16(b[1]-'0')*100 + uint16(b[2]-'0')*10 + uint16(b[3]-'0')
		}
		n, ok := parseUint(b)
		if !ok || n > 0xffff {
			return 0
		}
		return uint16(n)
	}
	switch string(b) {
	case "AVC":
		return TypeAVC
	case "USER_AVC":
		return TypeUserAVC
	case "APPARMOR_AUDIT":
		return 1501
	case "APPARMOR_ALLOWED":
		return 1502
	case "APPARMOR_DENIED":
		return 1503
	case "APPARMOR_HINT":
		return 1504
	case "APPARMOR_STATUS":
		return 1505
	case "APPARMOR_ERROR":
		return 1506
	case "APPARMOR_KILL":
		return 1507
	case "CONFIG_CHANGE":
		return typeConfigChg
	}
	n, ok := parseUint(b)
	if !ok || n > 0xffff {
		return 0
	}
	return uint16(n)
}

// RecordTypeName returns the audit type name of n ("AVC", "USER_AVC", …) or
// its decimal number.
func RecordTypeName(n uint16) string {
	switch n {
	case TypeAVC:
		return "AVC"
	case TypeUserAVC:
		return "USER_AVC"
	case 1501:
		return "APPARMOR_AUDIT"
	case 1502:
		return "APPARMOR_ALLOWED"
	case 1503:
		return "APPARMOR_DENIED"
	case 1504:
		return "APPARMOR_HINT"
	case 1505:
		return "APPARMOR_STATUS"
	case 1506:
		return "APPARMOR_ERROR"
	case 1507:
		return "APPARMOR_KILL"
	case typeConfigChg:
		return "CONFIG_CHANGE"
	}
	return itoa(uint64(n))
}
