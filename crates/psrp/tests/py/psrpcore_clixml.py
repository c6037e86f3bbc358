"""psrpcore as a CLIXML peer for pssession-psrp's interop tests (crates/psrp/tests/clixml_interop.rs).

Reads one JSON request on stdin, writes one JSON answer on stdout. Only psrpcore.types' own code paths are used:
serialize() writes, deserialize() / deserialize_clixml() read.

  {"op": "corpus"}
      -> {"cases": [{"name": s, "xml": s, "canon": C}]}  values built with psrpcore types, serialized by psrpcore;
         canon describes what psrpcore itself reads back from that XML.
  {"op": "deserialize", "cases": [{"name": s, "xml": s}], "objs": s}
      -> {"cases": [{"name": s, "canon": C}], "objs": [C]}  XML written by pssession, read by psrpcore.

The canonical description C (the Rust test computes the same from a PsValue):
  null                                        Nil
  {"B": bool}                                 Boolean
  {"S"|"URI"|"XD"|"SBK": str}                 text; a lone surrogate (which a Rust string cannot hold) as U+FFFD
  {"C"|"By"|"SB"|"U16"|"I16"|"U32"|"I32"|"U64"|"I64": int}
  {"Sg": "0x%08x"} / {"Db": "0x%016x"}        IEEE bit patterns (exact, NaN included)
  {"D": str}                                  fixed-point text, scale kept ("1.50")
  {"DT": {"ticks": int, "offset": int|null}}  ticks of the clock time as written; offset minutes (Z is 0), null
                                              when unspecified
  {"TS": int}                                 ticks
  {"BA"|"SS": base64}, {"G": lower-case uuid}, {"Version": str}
  {"PR": {...}}                               ProgressRecord fields
  {"Obj": {"types": [str], "tostring": str|null, "base": C|null, "container": {"LST"|"IE"|"STK"|"QUE": [C]} |
          {"DCT": [[C, C]]} | null, "adapted": [[name, C]], "extended": [[name, C]]}}
Type names are compared without the "Deserialized." prefix psrpcore adds to types it does not know.
"""

import base64
import datetime
import decimal
import enum
import json
import queue
import struct
import sys
import uuid
from xml.etree import ElementTree

from psrpcore._crypto import PSRemotingCrypto
from psrpcore.types import (
    ProgressRecord,
    PSBool,
    PSByte,
    PSByteArray,
    PSChar,
    PSCustomObject,
    PSDateTime,
    PSDecimal,
    PSDict,
    PSDouble,
    PSDuration,
    PSEnumBase,
    PSFlagBase,
    PSGuid,
    PSIEnumerable,
    PSInt,
    PSInt16,
    PSInt64,
    PSInvocationState,
    PSList,
    PSNoteProperty,
    PSObject,
    PSQueue,
    PSSByte,
    PSScriptBlock,
    PSSecureString,
    PSSingle,
    PSStack,
    PSString,
    PSThreadOptions,
    PSType,
    PSUInt,
    PSUInt16,
    PSUInt64,
    PSUri,
    PSVersion,
    PSXml,
    add_note_property,
    deserialize,
    deserialize_clixml,
    serialize,
)
from psrpcore.types._base import TypeRegistry
from psrpcore.types._primitive import _timedelta_total_nanoseconds

# No session key is exchanged: SecureStrings are only ever carried as already-encrypted text, which psrpcore
# writes and reads without touching the cipher.
CIPHER = PSRemotingCrypto()
TAGS = {ps_type: tag for tag, ps_type in TypeRegistry().element_registry.items()}


@PSType(["Pssession.Test.Color", "System.Enum", "System.ValueType", "System.Object"])
class Color(PSEnumBase):
    Black = 0
    Red = 12


@PSType(["Pssession.Test.Access", "System.Enum", "System.ValueType", "System.Object"])
class Access(PSFlagBase):
    none = 0
    Read = 1
    Write = 2


def text(s):
    """A string as JSON can carry it: lone surrogates (a valid .NET string, not a valid Rust one) become U+FFFD."""
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def type_names(names):
    return [n[len("Deserialized.") :] if n.startswith("Deserialized.") else n for n in names or []]


def prim_tag(v):
    for cls in type(v).__mro__:
        if cls in TAGS:
            return TAGS[cls]
    return None


def canon_primitive(tag, v):
    if tag in ("S", "URI", "XD", "SBK"):
        return text(str(v))
    if tag in ("C", "By", "SB", "U16", "I16", "U32", "I32", "U64", "I64"):
        return int(v)
    if tag == "Sg":
        return "0x%08x" % struct.unpack("<I", struct.pack("<f", float(v)))[0]
    if tag == "Db":
        return "0x%016x" % struct.unpack("<Q", struct.pack("<d", float(v)))[0]
    if tag == "D":
        return format(decimal.Decimal(v), "f")
    if tag == "BA":
        return base64.b64encode(bytes(v)).decode()
    if tag == "SS":
        return v._value
    if tag == "G":
        return str(uuid.UUID(str(v)))
    if tag == "Version":
        return str(v)
    if tag == "DT":
        seconds = (v.toordinal() - 1) * 86400 + v.hour * 3600 + v.minute * 60 + v.second
        ticks = (seconds * 1_000_000 + v.microsecond) * 10 + (getattr(v, "nanosecond", 0) or 0) // 100
        offset = None if v.tzinfo is None else int(v.utcoffset().total_seconds()) // 60
        return {"ticks": ticks, "offset": offset}
    if tag == "TS":
        return _timedelta_total_nanoseconds(v) // 100
    raise ValueError(f"no canonical form for <{tag}> {v!r}")


def properties(v, kind):
    return [[text(p.name), canon(p.get_value(v))] for p in getattr(v.PSObject, f"{kind}_properties")]


def canon(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return {"B": v}
    if isinstance(v, ProgressRecord):
        return {
            "PR": {
                "activity": text(v.Activity),
                "activity_id": v.ActivityId,
                "current_operation": None if v.CurrentOperation is None else text(v.CurrentOperation),
                "parent_activity_id": v.ParentActivityId,
                "percent_complete": v.PercentComplete,
                "record_type": v.RecordType.name,
                "seconds_remaining": v.SecondsRemaining,
                "status_description": text(v.StatusDescription),
            }
        }
    container = None
    base = None
    if isinstance(v, enum.Enum):
        base = {"I32": int(v.value)}
    elif isinstance(v, PSDict):
        container = {"DCT": [[canon(k), canon(x)] for k, x in v.items()]}
    elif isinstance(v, PSQueue):
        container = {"QUE": [canon(x) for x in list(v.queue)]}
    elif isinstance(v, (PSList, PSStack, PSIEnumerable)):
        tag = "LST" if isinstance(v, PSList) else "STK" if isinstance(v, PSStack) else "IE"
        container = {tag: [canon(x) for x in v]}
    else:
        tag = prim_tag(v)
        if tag is not None:
            primitive = {tag: canon_primitive(tag, v)}
            ps = v.PSObject
            default_types = list(ps.type_names) == list(type(v).PSObject.type_names)
            if not ps.adapted_properties and not ps.extended_properties and explicit_to_string(v) is None:
                if default_types:
                    return primitive
            base = primitive
            if default_types:
                # An extended primitive whose CLIXML carried no <TN>: psrpcore fills in the primitive's own.
                return obj(v, [], base, None)
    if not isinstance(v, PSObject) and not isinstance(v, enum.Enum):
        raise ValueError(f"no canonical form for {type(v)} {v!r}")
    return obj(v, type_names(v.PSObject.type_names), base, container)


def explicit_to_string(v):
    """The ToString the CLIXML carried; psrpcore's PSObject.to_string falls back to Python's str()."""
    return getattr(v.PSObject, "_to_string", None)


def obj(v, types, base, container):
    to_string = explicit_to_string(v)
    return {
        "Obj": {
            "types": types,
            "tostring": None if to_string is None else text(str(to_string)),
            "base": base,
            "container": container,
            "adapted": properties(v, "adapted"),
            "extended": properties(v, "extended"),
        }
    }


def ss(raw: bytes) -> PSSecureString:
    """A SecureString as received: its encrypted bytes, base64 on the wire."""
    return PSSecureString(base64.b64encode(raw).decode(), CIPHER)


def dt(*args, tz=None, nanosecond=0):
    value = PSDateTime(*args, tzinfo=tz)
    value.nanosecond = nanosecond
    return value


def corpus():
    """Every primitive tag, every container, enums, nested objects and hard strings."""
    hard = [
        "",
        "plain",
        "a\r\nb\tc\x00\x01\x1f\x7f\x80\x9f",
        "_x0041_ stays literal, _X0041_ too, and _x alone",
        "surrogate pair \U0001f600 and lone halves \ud800 \udfff",
        # (U+FFFE/U+FFFF are left out: psrpcore writes them unescaped, which is not well-formed XML.)
        "xml <&>\"' ]]> \ufffd",
        "ends with _x",
        " leading and trailing spaces ",
    ]
    cases = []
    for i, s in enumerate(hard):
        cases.append((f"S-{i}", PSString(s)))
    cases += [
        ("Nil", None),
        ("B-true", True),
        ("B-false", False),
        ("C-a", PSChar("a")),
        ("C-zero", PSChar(0)),
        ("C-lone-surrogate", PSChar(0xD800)),
        ("C-max", PSChar(0xFFFF)),
        ("By", PSByte(255)),
        ("SB-min", PSSByte(-128)),
        ("U16", PSUInt16(65535)),
        ("I16", PSInt16(-32768)),
        ("U32", PSUInt(4294967295)),
        ("I32-min", PSInt(-2147483648)),
        ("I32-max", PSInt(2147483647)),
        ("U64", PSUInt64(18446744073709551615)),
        ("I64", PSInt64(-9223372036854775808)),
        ("Sg", PSSingle(1.5)),
        ("Sg-tenth", PSSingle(0.1)),
        ("Sg-inf", PSSingle(float("inf"))),
        ("Db", PSDouble(0.1)),
        ("Db-nan", PSDouble(float("nan"))),
        ("Sg-nan", PSSingle(float("nan"))),
        ("Db-big", PSDouble(1.7976931348623157e308)),
        ("Db-small", PSDouble(5e-324)),
        ("Db-negative-inf", PSDouble(float("-inf"))),
        ("Db-negative-zero", PSDouble(-0.0)),
        ("Db-1e20", PSDouble(1e20)),
        ("D", PSDecimal("1.50")),
        ("D-max", PSDecimal("-79228162514264337593543950335")),
        ("D-zero", PSDecimal("0")),
        # (Decimals below 1E-6 are left out: psrpcore writes str(Decimal) = "1E-7", which XmlConvert.ToDecimal, and
        # so PowerShell and ours, reject.)
        ("DT-utc", dt(2024, 5, 1, 12, 30, 45, 123456, tz=datetime.timezone.utc, nanosecond=700)),
        ("DT-offset", dt(2018, 11, 26, 14, 45, 12, 500000, tz=datetime.timezone(datetime.timedelta(hours=-5, minutes=-30)))),
        # (Years before 1000 are left out: psrpcore's strftime writes "1-01-01", which neither peer reads.)
        ("DT-unspecified", dt(1601, 1, 1)),
        ("DT-max", dt(9999, 12, 31, 23, 59, 59, 999999, tz=datetime.timezone.utc, nanosecond=900)),
        ("TS-zero", PSDuration()),
        ("TS", PSDuration(days=1, hours=2, minutes=3, seconds=4, microseconds=500000)),
        ("TS-negative", PSDuration(seconds=-1)),
        ("TS-fraction", PSDuration(seconds=9, microseconds=26902, nanoseconds=600)),
        ("BA", PSByteArray(bytes(range(256)))),
        ("BA-empty", PSByteArray(b"")),
        ("G", PSGuid("9e1c4b8a-5d2e-4f0a-8c3b-1a2b3c4d5e6f")),
        ("URI", PSUri("http://server:5985/wsman?PSVersion=7.4&x=<y>")),
        ("Version-2", PSVersion("2.3")),
        ("Version-4", PSVersion("10.0.17763.1")),
        ("XD", PSXml('<root a="1"><child>text &amp; more</child></root>')),
        ("SBK", PSScriptBlock("param($x) { $x | Where-Object { $_ -gt 1 } }\r\n")),
        ("SS", ss(bytes(range(32)))),
        ("PR", ProgressRecord(Activity="Copying", ActivityId=3, StatusDescription="42 %", CurrentOperation="file_x1.txt", PercentComplete=42)),
        ("LST", PSList([PSInt(1), PSString("two"), None, PSList([PSInt(3)])])),
        ("LST-empty", PSList()),
        ("python-list", [1, "a", 2.5, b"\x00"]),
        ("IE", PSIEnumerable([PSInt(1), PSInt(2)])),
        ("STK", PSStack([PSString("top"), PSString("bottom")])),
        ("DCT", PSDict({PSString("a"): PSInt(1), PSString("nested"): PSDict({PSInt(2): PSList([True])})})),
        ("python-dict", {"key\n": None, "x": {"y": "z"}}),
        ("enum-known", PSThreadOptions.UseNewThread),
        ("enum-invocation", PSInvocationState.Completed),
        ("enum-custom", Color.Red),
        ("flags", Access.Read | Access.Write),
    ]
    q = PSQueue()
    q.put(PSString("head"))
    q.put(PSInt(2))
    cases.append(("QUE", q))

    inner = PSCustomObject(Name=PSString("inner"), When=dt(2024, 1, 2, 3, 4, 5, tz=datetime.timezone.utc))
    cases.append(
        (
            "nested",
            PSCustomObject(
                **{
                    "Name": PSString("svchost"),
                    "Id": PSInt(4),
                    "odd name_x0020_<&>\n": PSString("v"),
                    "Inner": inner,
                    "Again": inner,
                    "List": PSList([inner, PSDict({PSString("k"): inner})]),
                }
            ),
        )
    )
    noted = PSString("a string with notes")
    add_note_property(noted, "Note", PSInt(1))
    cases.append(("extended-primitive", noted))
    adapted = PSObject()
    adapted.PSObject.type_names = ["Pssession.Test.Thing", "System.Object"]
    adapted.PSObject.to_string = "the thing"
    adapted.PSObject.adapted_properties.append(PSNoteProperty("Adapted", PSString("a")))
    adapted.PSObject.extended_properties.append(PSNoteProperty("Extended", PSInt(2)))
    cases.append(("adapted-and-extended", adapted))
    return cases


def xml_of(value) -> str:
    return ElementTree.tostring(serialize(value, CIPHER), encoding="unicode")


def read(xml: str):
    return deserialize(ElementTree.fromstring(xml), CIPHER)


def op_corpus(_request):
    out = []
    for name, value in corpus():
        xml = xml_of(value)
        out.append({"name": name, "xml": xml, "canon": canon(read(xml))})
    return {"cases": out}


def op_deserialize(request):
    cases = []
    for case in request["cases"]:
        try:
            cases.append({"name": case["name"], "canon": canon(read(case["xml"]))})
        except Exception as e:  # reported per case, so one failure does not hide the others
            cases.append({"name": case["name"], "error": f"{type(e).__name__}: {e}"})
    objs = [canon(v) for v in deserialize_clixml(request["objs"], CIPHER)]
    return {"cases": cases, "objs": objs}


def main():
    request = json.load(sys.stdin)
    answer = {"corpus": op_corpus, "deserialize": op_deserialize}[request["op"]](request)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
