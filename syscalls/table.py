# PLACEHOLDER generated from unistd_64.h until the real table lands (helper-1 overwrites this file).
import re
from .model import sc, PASS, EMULATE
from . import ident
TABLE = []
for _line in open('/usr/include/x86_64-linux-gnu/asm/unistd_64.h'):
    _m = re.match(r'#define __NR_(\w+) (\d+)', _line)
    if _m:
        _h = getattr(ident, _m.group(1)) if _m.group(1) in ('uname', 'sethostname', 'setdomainname') else None
        TABLE.append(sc(int(_m.group(2)), _m.group(1), EMULATE if _h else PASS, "a b c d e f", "2.6", _h, ""))
