"""Encodes oa.DeletionRequest (protos/deletion.proto) by hand, for tests that put a
record on oa.deletions.v1 themselves; and the visitor id of a user (libshared/src/visitor.c)."""
import hashlib
def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7f; n >>= 7
        if n: out.append(b | 0x80)
        else: out.append(b); return bytes(out)
def _field_str(num, s):
    b = s.encode() if isinstance(s, str) else s
    return _varint(num << 3 | 2) + _varint(len(b)) + b
def _field_int(num, v):
    return _varint(num << 3) + _varint(v & ((1 << 64) - 1))
def visitor_of_user(project_id, user_id):
    return hashlib.sha256(b"oa.user.v1\0" + project_id.encode() + b"\0" + user_id.encode()).hexdigest()[:32]
def deletion_request(request_id, project_id, account_id, user_id, key_id, created_ms, version=1):
    return (_field_int(1, version) + _field_str(2, request_id) + _field_str(3, project_id) +
            _field_str(4, account_id) + _field_str(5, user_id) +
            _field_str(6, visitor_of_user(project_id, user_id)) + _field_str(7, key_id) +
            _field_int(8, created_ms))
