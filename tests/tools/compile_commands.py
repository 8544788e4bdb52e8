"""Write compile_commands.json for editors (clangd, ccls) on stdout.

Every step is built by one compiler call (steps/kitchen/step.mk), from the
files `make sources` names; editors want one entry per source file, with the
same flags.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLAGS = ["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
         "-I../kitchen", "-I.", "-c"]


def entries(step):
    directory = os.path.join(ROOT, "steps", step)
    # A make of its own, not a part of the make that runs this script: the
    # parent's job server is not ours to use.
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    def ask(target):
        return subprocess.run(["make", "-s", "--no-print-directory", "-C",
                               directory, target], check=True, env=env,
                              stdout=subprocess.PIPE, text=True).stdout.split()
    flags = FLAGS[:-1] + ["-I" + d for d in ask("includes")] + ["-c"]
    for f in ask("sources"):
        yield {"directory": directory, "file": f, "arguments": flags + [f]}


def main(steps):
    seen = set()
    out = []
    for step in steps:
        for e in entries(step):
            path = os.path.normpath(os.path.join(e["directory"], e["file"]))
            if path not in seen:  # the kitchen once, under the first step
                seen.add(path)
                out.append(e)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
