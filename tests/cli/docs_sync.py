#!/usr/bin/env python3
"""The command lists of `dockguard --help`, each `dockguard COMMAND --help`,
dockguard(8) (SYNOPSIS, OPTIONS and COMMANDS), the bash completion
(tools/completion/dockguard) and the README's tables agree:
the same commands, each with the same options, and the same global options;
every command's help says its exit statuses. Prints what differs; exit 1
then.

    docs_sync.py DOCKGUARD REPO_ROOT
"""
import re
import subprocess
import sys


def options(text):
    return frozenset(re.findall(r"--[a-z][a-z-]*", text))


def troff_text(line):
    """A man page line without requests, fonts and quotes."""
    line = re.sub(r"^\.[A-Z]+\s*", "", line)
    line = line.replace("\\-", "-").replace("\\(em", "-")
    line = re.sub(r"\\f[BIRP]", "", line)
    return line.replace('"', "")


def from_help(dg):
    out = subprocess.run([dg, "--help"], capture_output=True, text=True).stdout
    cmds, glob, section = {}, set(), None
    for line in out.splitlines():
        if line in ("commands:", "options:"):
            section = line
        elif not line.strip():
            section = None
        elif section == "commands:":
            m = re.match(r"  ([a-z]+)(.*)", line)
            more = re.match(r"\s+(\[.*?)(\s{2,}|$)", line)
            if m:
                cmd = m.group(1)
                synopsis = re.split(r"\s{2,}", m.group(2).strip())[0]
                cmds[cmd] = options(synopsis)
            elif more and cmds:
                # the synopsis goes on: `          [--verbose]     text`
                cmds[cmd] = cmds[cmd] | options(more.group(1))
        elif section == "options:":
            m = re.match(r"\s+(?:-[a-z], )?(--[a-z-]+)", line)
            if m:
                glob.add(m.group(1))
    return cmds, frozenset(glob)


def command_help(dg, cmd):
    """The options of `dockguard CMD --help`'s synopsis, and whether it says
    its exit statuses."""
    out = subprocess.run([dg, cmd, "--help"], capture_output=True, text=True).stdout
    lines = out.splitlines()
    if not lines or not lines[0].startswith(f"usage: dockguard {cmd}"):
        return None, False
    synopsis = lines[0]
    for line in lines[1:]:
        if not re.match(r"\s+\[", line):
            break
        synopsis += " " + line
    return options(synopsis), any(l.startswith("exit:") for l in lines)


def from_readme(path):
    text = open(path, encoding="utf-8").read()
    cmds, glob = {}, set()
    table = None
    for line in text.splitlines():
        if line.startswith("| command |"):
            table = "commands"
        elif line.startswith("| option |"):
            table = "options"
        elif not line.startswith("|"):
            table = None
        elif table == "commands":
            m = re.match(r"\| `([a-z]+)([^`]*)` \|", line)
            if m:
                cmds[m.group(1)] = options(m.group(2))
        elif table == "options":
            m = re.match(r"\| `(?:-[a-z], )?(--[a-z-]+)", line)
            if m:
                glob.add(m.group(1))
    return cmds, frozenset(glob)


def man_sections(path):
    sections, name = {}, None
    for line in open(path, encoding="utf-8").read().splitlines():
        if line.startswith(".SH "):
            name = line[4:].strip('"')
            sections[name] = []
        elif name:
            sections[name].append(line)
    return sections


def from_man(path):
    sec = man_sections(path)
    # COMMANDS: the tag line after each .TP; sub-entries start with an option
    cmds = {}
    lines = sec["COMMANDS"]
    for i, line in enumerate(lines[:-1]):
        if line == ".TP":
            text = troff_text(lines[i + 1]).strip()
            m = re.match(r"([a-z]+)\b(.*)", text)
            if m:
                cmds[m.group(1)] = options(m.group(2))
    glob = set()
    lines = sec["OPTIONS"]
    for i, line in enumerate(lines[:-1]):
        if line == ".TP":
            m = re.search(r"(--[a-z-]+)", troff_text(lines[i + 1]))
            if m:
                glob.add(m.group(1))
    # SYNOPSIS: one invocation per .br
    synopsis = {}
    for chunk in "\n".join(sec["SYNOPSIS"]).split(".br"):
        words = " ".join(troff_text(l) for l in chunk.splitlines() if l.strip()).split()
        words = [w for w in words if w not in ("dockguard", "[", "]", "[OPTIONS]", "OPTIONS")]
        if words and re.match(r"[a-z]+$", words[0]):
            synopsis[words[0]] = options(" ".join(words[1:]))
    return cmds, frozenset(glob), synopsis


def from_completion(path):
    """The commands the completion offers first, each command's options, the
    global options."""
    text = open(path, encoding="utf-8").read()
    first = re.search(r'""\) COMPREPLY=\(\$\(compgen -W "([^"$]*)', text)
    cmds = {}
    for c in (first.group(1).split() if first else []):
        m = re.search(r"^\t%s\) COMPREPLY=\(\$\(compgen (?:-W \"([^\"]*)\")?" % re.escape(c), text, re.M)
        cmds[c] = options(m.group(1) or "") if m else frozenset()
    glob = re.search(r'local global="([^"]*)"', text)
    return cmds, options(glob.group(1)) if glob else frozenset()


def main():
    dg, root = sys.argv[1], sys.argv[2]
    help_cmds, help_glob = from_help(dg)
    readme_cmds, readme_glob = from_readme(f"{root}/README.md")
    man_cmds, man_glob, man_syn = from_man(f"{root}/docs/dockguard.8")
    comp_cmds, comp_glob = from_completion(f"{root}/tools/completion/dockguard")
    sources = {
        "bash completion": comp_cmds,
        "dockguard --help": help_cmds,
        "README.md": readme_cmds,
        "dockguard(8) COMMANDS": man_cmds,
        "dockguard(8) SYNOPSIS": man_syn,
    }
    bad = 0
    if not help_cmds:
        print("dockguard --help lists no commands")
        bad += 1
    for name, cmds in sources.items():
        for cmd in sorted(set(help_cmds) | set(cmds)):
            if cmd not in cmds:
                print(f"{name}: no command {cmd} (dockguard --help has it)")
                bad += 1
            elif cmd not in help_cmds:
                print(f"{name}: command {cmd}, which dockguard --help does not have")
                bad += 1
            elif cmds[cmd] != help_cmds[cmd]:
                print(f"{name}: {cmd} takes {sorted(cmds[cmd])}, dockguard --help says "
                      f"{sorted(help_cmds[cmd])}")
                bad += 1
    for cmd in sorted(help_cmds):
        opts, exits = command_help(dg, cmd)
        if opts is None:
            print(f"dockguard {cmd} --help: no `usage: dockguard {cmd}` line")
            bad += 1
        elif opts != help_cmds[cmd]:
            print(f"dockguard {cmd} --help: takes {sorted(opts)}, dockguard --help says "
                  f"{sorted(help_cmds[cmd])}")
            bad += 1
        elif not exits:
            print(f"dockguard {cmd} --help: says nothing of its exit statuses")
            bad += 1
    for name, glob in (("README.md", readme_glob), ("dockguard(8) OPTIONS", man_glob),
                       ("bash completion", comp_glob)):
        if glob != help_glob:
            print(f"{name}: global options {sorted(glob)}, dockguard --help says {sorted(help_glob)}")
            bad += 1
    if not bad:
        print(f"{len(help_cmds)} commands and {len(help_glob)} global options agree")
    return 1 if bad else 0


sys.exit(main())
