"""Every mechanism a chapter teaches is guarded by a test: take it out and
the suite goes red.

Each tests/mutants/NAME.patch removes one mechanism (the fair share, the
spare descriptor, the lingering close...). Its header says which step to
build with it and which tests must then fail:

    # The fair share: one turn moves a visit at most FAIR_SHARE times.
    # step: 07-state-machine
    # build: plain            (or asan: the sanitizers are the only witness)
    # kills: tests/test_step_07_state_machine.py::test_a_greedy_pipeline...
    # kills: tests/test_readiness.py -k "held_back and 07"
    diff --git a/steps/07-state-machine/kitchen_loop.c b/...

Every `kills:` line is one set of pytest arguments; they run one after the
other, and the mutant is killed when any of them fails. A proof works in a
temporary copy holding only that step, the kitchen and the tests: it
applies the patch (a patch that no longer applies is a failure too),
builds that step alone (-O0, like the exercise proofs; `make asan-NN` for
the sanitizer build) and runs the named tests against it. If they all
pass, the mutant survived: a mechanism the book teaches is not tested.
"""
import concurrent.futures
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "tests" / "mutants"
BUILDS = ("plain", "asan")


def mutant_names():
    return sorted(p.stem for p in MUTANTS.glob("*.patch"))


class Mutant:
    """One patch and its header."""

    def __init__(self, name):
        self.name = name
        self.path = MUTANTS / f"{name}.patch"
        text = self.path.read_text()
        head = []
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            head.append(line[1:].strip())
        fields, said = {}, []
        for line in head:
            key, sep, value = line.partition(":")
            if sep and key.strip() in ("step", "build", "kills"):
                fields.setdefault(key.strip(), []).append(value.strip())
            elif not fields:
                said.append(line)
        self.mechanism = " ".join(said)
        self.step = (fields.get("step") or [""])[0]
        self.build = (fields.get("build") or ["plain"])[0]
        self.kills = [shlex.split(k) for k in fields.get("kills", [])]
        self.touches = re.findall(r"^\+\+\+ b/(\S+)", text, re.M)

    def problems(self):
        """What is wrong with the header, or nothing."""
        found = []
        if not self.mechanism:
            found.append("its first lines must say what the patch removes")
        if not (ROOT / "steps" / self.step / "server.c").is_file():
            found.append(f"step {self.step!r} does not exist")
        if self.build not in BUILDS:
            found.append(f"build {self.build!r} is not one of {BUILDS}")
        if not self.kills:
            found.append("no `# kills:` line names the tests that kill it")
        for path in self.touches:
            if not (path.startswith(f"steps/{self.step}/")
                    or path.startswith("steps/kitchen/")):
                found.append(f"it changes {path}: only its step and the "
                             f"kitchen are built")
        if not self.touches:
            found.append("no file is patched")
        return found


def linked_steps(step):
    """The earlier steps whose files a step links (step 08 runs step 07's
    kitchen): their directories, as `make sources` names them."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    made = subprocess.run(["make", "-s", "--no-print-directory", "-C",
                           str(ROOT / "steps" / step), "sources"], env=env,
                          stdout=subprocess.PIPE, text=True, check=True)
    return sorted({Path(p).parts[1] for p in made.stdout.split()
                   if p.startswith("../") and Path(p).parts[1] != "kitchen"})


def copy_for(mutant, into):
    """Only what the proof needs: its step (and the steps whose files it
    links), the kitchen, the tests and the Makefile. The harness finds the
    steps present, so only these."""
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.o",
                                    "*.d", "pizzeria", "mutants")
    parts = ["steps/kitchen", f"steps/{mutant.step}", "tests"]
    parts += [f"steps/{linked}" for linked in linked_steps(mutant.step)]
    for part in parts:
        shutil.copytree(ROOT / part, into / part, ignore=ignore)
    shutil.copy(ROOT / "Makefile", into / "Makefile")


def run(command, cwd, env=None, timeout=120):
    return subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


def build(mutant, copy):
    if mutant.build == "asan":
        return run(["make", "-s", f"asan-{mutant.step}"], copy)
    return run(["make", "-s", "-C", f"steps/{mutant.step}",
                "CFLAGS=-O0 -g"], copy)


def prove(name, workdir):
    """None when the named tests fail with the mutant; else what is wrong,
    in one line first."""
    mutant = Mutant(name)
    problems = mutant.problems()
    if problems:
        return f"{name}: " + "; ".join(problems)
    copy = Path(workdir) / "repo"
    copy_for(mutant, copy)

    applied = run(["git", "apply", "-p1", str(mutant.path)], copy)
    if applied.returncode != 0:
        return (f"{name}: stale, the patch no longer applies: refresh it"
                f"\n{applied.stdout}")
    built = build(mutant, copy)
    if built.returncode != 0:
        return f"{name}: the mutant does not build\n{built.stdout}"

    env = dict(os.environ, PIZZERIA_NO_BUILD="1")
    env.pop("PIZZERIA_JOBS", None)  # a few tests: one process each
    env.pop("PIZZERIA_BUILD", None)
    if mutant.build == "asan":
        env["PIZZERIA_BUILD"] = "asan"
    passed = []
    for args in mutant.kills:
        result = run(["tests/tools/pytest", "-p", "no:cacheprovider", "-q",
                      "-x", *args], copy, env=env, timeout=180)
        if result.returncode == 1:
            return None  # a test failed: killed
        if result.returncode != 0:
            return (f"{name}: `{shlex.join(args)}` did not run (pytest exit "
                    f"{result.returncode})\n{result.stdout[-3000:]}")
        passed.append(shlex.join(args))
    return (f"{name} SURVIVED: with {mutant.mechanism!r} removed, these "
            f"still pass: {'; '.join(passed)}")


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    """Every proof, three at a time: most of one is waiting on a build or
    a server."""
    root = tmp_path_factory.mktemp("mutants")
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(prove, name, tempfile.mkdtemp(dir=root))
                   for name in mutant_names()}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.xdist_group("mutants")  # one process runs all the proofs
@pytest.mark.parametrize("name", mutant_names())
def test_the_suite_kills_the_mutant(name, verdicts):
    problem = verdicts[name]
    assert problem is None, problem


def test_every_mutant_has_a_sound_header():
    assert mutant_names(), "no mutants in tests/mutants/"
    for name in mutant_names():
        assert not Mutant(name).problems(), (name, Mutant(name).problems())
