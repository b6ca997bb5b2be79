#!/usr/bin/python3
"""Drive Debian's aa-logprof as a hurried user would: every suggestion
accepted, then "Save Changes". For a rule question that is "(A)llow" with
the option aa-logprof preselects (its first proposal: an abstraction when one
covers the access, else the rule as logged); every other question gets its
default answer. Pressing Enter is not the same: aa-logprof 3.0.8 makes
"Deny" the default of every rule question (its test for complain-mode
events, rule.log_event == 'PERMITTING', never holds: log_event is True), so
Enter writes deny rules, and loops on an abstraction it cannot deny.

It talks to aa-logprof's own --json UI (the mode YaST uses) over a pipe,
so aa-logprof's code decides every proposal. One thing is changed:
aa-logprof refuses to start without an AppArmor kernel (check_for_apparmor),
and the machine that runs this has none; the check is made to pass, and
the reload after saving then fails quietly, as aa-logprof's own reload does
(its output goes to /dev/null).

usage: hurried.py TRANSCRIPT aa-logprof-args...
The transcript records each dialog and the answer given.
"""
import json
import re
import subprocess
import sys

LOGPROF = (
    "import sys, runpy, apparmor.aa\n"
    "apparmor.aa.check_for_apparmor = lambda *a, **k: '/sys/kernel/security/apparmor'\n"
    "sys.argv = ['aa-logprof'] + sys.argv[1:]\n"
    "runpy.run_path('/usr/sbin/aa-logprof', run_name='__main__')\n"
)


def hotkey(menu_items, command_text):
    """The key of the menu item whose text is command_text ("(S)ave Changes")."""
    for item in menu_items:
        if command_text in item.replace("(", "").replace(")", "").replace("[", "").replace("]", ""):
            m = re.search(r"\((.)\)", item)
            if m:
                return m.group(1).lower()
    raise SystemExit("no menu item %r in %r" % (command_text, menu_items))


def answer(d):
    kind = d.get("dialog")
    if kind == "promptuser":
        if d.get("title") == "Changed Local Profiles":
            return {"dialog": kind, "response_key": hotkey(d["menu_items"], "Save Changes"), "selected": 0}
        # Rule questions preselect their first option (q.selected =
        # default_option - 1 = 0).
        if d.get("options") and any("(A)llow" in m for m in d["menu_items"]):
            return {"dialog": kind, "response_key": hotkey(d["menu_items"], "Allow"), "selected": 0}
        return {"dialog": kind, "response_key": d["default_key"], "selected": 0}
    if kind in ("yesno", "yesnocancel"):
        return {"dialog": kind, "response_key": d["default"]}
    if kind == "getstring":
        return {"dialog": kind, "response": d["default"]}
    if kind == "changes":
        return {"dialog": kind, "response": ""}
    if kind == "getfile":
        raise SystemExit("aa-logprof asked for a file name: %r" % d)
    return None  # apparmor-json-version, info, important: nothing to answer


def main():
    transcript = open(sys.argv[1], "w")
    p = subprocess.Popen(["/usr/bin/python3", "-c", LOGPROF, "--json"] + sys.argv[2:],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    prompts = 0
    last, repeats = None, 0
    for line in p.stdout:
        line = line.strip()
        if not line:
            continue
        try:
            d = json.loads(line)
        except ValueError:
            transcript.write("# " + line + "\n")
            continue
        transcript.write(json.dumps(d, sort_keys=True) + "\n")
        a = answer(d)
        if a is None:
            continue
        repeats = repeats + 1 if line == last else 0
        last = line
        if repeats >= 3:
            p.kill()
            raise SystemExit("aa-logprof asks the same question again and again: %s" % line)
        prompts += 1
        transcript.write("> " + json.dumps(a, sort_keys=True) + "\n")
        p.stdin.write(json.dumps(a) + "\n")
        p.stdin.flush()
    rc = p.wait()
    transcript.write("# %d answers, aa-logprof exit status %d\n" % (prompts, rc))
    transcript.close()
    print("%d answers, aa-logprof exit status %d" % (prompts, rc))
    sys.exit(rc)


if __name__ == "__main__":
    main()
