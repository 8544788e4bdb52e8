"""Every code exercise's check fails on the code as shipped and passes once
its reference solution is applied: a check that cannot fail proves nothing,
and a solution that does not pass its check teaches the wrong thing.

Each proof works in a temporary copy of the repository, so the working
copy (and whatever a reader has changed in it) is never touched.
"""
import concurrent.futures
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "chapters" / "exercises"
CHAPTERS = ROOT / "chapters"


def code_exercises():
    return sorted(d.name for d in EXERCISES.iterdir()
                  if (d / "check.py").is_file())


def copy_repository(into):
    """What a proof needs: the sources, tests and exercises."""
    # The steps' binaries come along (copy2 keeps their times): the check
    # before the solution then needs no build, and make rebuilds only the
    # step whose sources the solution touches.
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.o",
                                    "*.d")
    for part in ("steps", "tests", "chapters"):
        shutil.copytree(ROOT / part, into / part, ignore=ignore)
    shutil.copy(ROOT / "Makefile", into / "Makefile")


def run_check(copy, name):
    # -O0: a proof builds its step twice; the check needs no optimiser.
    env = dict(os.environ, CFLAGS="-O0 -g")
    env.pop("PIZZERIA_JOBS", None)  # a check is a few tests: one process
    return subprocess.run(
        ["tests/tools/pytest", "-p", "no:cacheprovider", "-c",
         "chapters/exercises/pytest.ini", f"chapters/exercises/{name}/check.py",
         "-x"],
        cwd=copy, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=300, env=env)


def wrong_answers(name):
    """The patches beside solution.patch: answers a reader might well
    write (07-call-the-supplier's blocking.patch: the call made inside the
    loop) that the check must turn down."""
    return sorted(p for p in (EXERCISES / name).glob("*.patch")
                  if p.name != "solution.patch")


def apply(copy, patch):
    return subprocess.run(["git", "apply", "-p1", str(patch)], cwd=copy,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def step_directories_touched(copy, patch):
    """The steps/NN-* directories whose files a patch changes (the kitchen
    is not one: every step links it)."""
    listed = subprocess.run(["git", "apply", "-p1", "--numstat", str(patch)],
                            cwd=copy, stdout=subprocess.PIPE, text=True,
                            check=True)
    touched = set()
    for line in listed.stdout.splitlines():
        parts = Path(line.split("\t")[-1]).parts
        if len(parts) > 2 and parts[0] == "steps" and re.match(r"\d\d-", parts[1]):
            touched.add(parts[1])
    return touched


def steps_that_link(copy, directories):
    """The other steps whose Makefile links a file from one of these step
    directories (step 08 and step 10 link step 07's: ../07-state-machine)."""
    for makefile in sorted((copy / "steps").glob("[0-9][0-9]-*/Makefile")):
        step = makefile.parent
        text = makefile.read_text()
        if step.name not in directories and any(
                f"../{directory}" in text for directory in directories):
            yield step


def build_the_steps_that_link(copy, patch):
    """A solution to one step's exercise must not break a step that links
    that step's files: build each of them (-O0, as the check does). A
    message naming the first that does not build, or None."""
    env = dict(os.environ, CFLAGS="-O0 -g")
    for step in steps_that_link(copy, step_directories_touched(copy, patch)):
        made = subprocess.run(["make", "-s", "-C", str(step)], cwd=copy,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=300, env=env)
        if made.returncode != 0:
            return (f"{patch.name} passes its check, but {step.name}, which "
                    f"links the files it changes, no longer builds:\n"
                    f"{made.stdout}")
    return None


def prove(name, workdir):
    """Fail before, fail with each wrong answer, pass after, in a copy of
    the repository; a message saying what went wrong, or None."""
    copy = Path(workdir) / "repo"
    copy_repository(copy)

    before = run_check(copy, name)
    if before.returncode != 1:
        return (f"{name}: the check must FAIL on the code as shipped "
                f"(pytest exit 1), got {before.returncode}:\n{before.stdout}")

    for wrong in wrong_answers(name):
        applied = apply(copy, wrong)
        if applied.returncode != 0:
            return f"{name}: {wrong.name} does not apply:\n{applied.stdout}"
        with_it = run_check(copy, name)
        if with_it.returncode != 1:
            return (f"{name}: the check must FAIL with {wrong.name} "
                    f"(pytest exit 1), got {with_it.returncode}:\n{with_it.stdout}")
        undone = subprocess.run(["git", "apply", "-R", "-p1", str(wrong)], cwd=copy,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        if undone.returncode != 0:
            return f"{name}: {wrong.name} does not come off again:\n{undone.stdout}"

    patch = EXERCISES / name / "solution.patch"
    applied = apply(copy, patch)
    if applied.returncode != 0:
        return f"{name}: the solution does not apply:\n{applied.stdout}"

    after = run_check(copy, name)
    if after.returncode != 0:
        return f"{name}: the check must PASS with the solution:\n{after.stdout}"
    broken = build_the_steps_that_link(copy, patch)
    if broken:
        return f"{name}: {broken}"
    return None


@pytest.fixture(scope="module")
def proofs(request, tmp_path_factory):
    """Run every proof asked for (`-k NAME` asks for one), three at a time:
    most of a proof is waiting (builds and servers), and there is one proof
    per code exercise in the book."""
    asked = {item.callspec.params["name"] for item in request.session.items
             if "proofs" in item.fixturenames and hasattr(item, "callspec")}
    root = tmp_path_factory.mktemp("exercises")
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(prove, name, tempfile.mkdtemp(dir=root))
                   for name in code_exercises() if name in asked}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.xdist_group("exercises")  # one process runs all the proofs
@pytest.mark.parametrize("name", code_exercises())
def test_check_fails_before_and_passes_after_the_solution(name, proofs):
    problem = proofs[name]
    if problem:
        pytest.fail(problem, pytrace=False)


# The quickest check: three short tests of step 01, whose solution changes
# the kitchen, as 04-request-timeout's does.
RACED = "00-new-pizza"


def test_a_solved_check_passes_every_time_in_several_processes(tmp_path):
    """`make exercise` runs a check's tests in PIZZERIA_JOBS processes, each
    of which starts the step. With a source just changed, they once all
    built it at the same moment, and one started a binary another was still
    writing ("Text file busy"): a right solution failed two times in three.
    Every check builds its step the same way, so one proves it for all."""
    copy_repository(tmp_path)
    patch = EXERCISES / RACED / "solution.patch"
    subprocess.run(["git", "apply", "-p1", str(patch)], cwd=tmp_path,
                   check=True, capture_output=True)
    env = dict(os.environ, CFLAGS="-O0 -g", PIZZERIA_JOBS="4")
    for run in range(1, 6):
        (tmp_path / "steps" / "kitchen" / "pizzeria.c").touch()
        made = subprocess.run(["make", "-s", "exercise", f"EX={RACED}"],
                              cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120,
                              env=env)
        if made.returncode != 0:
            pytest.fail(f"run {run} of 5 of {RACED}'s solved check, just "
                        f"after a source changed, failed:\n{made.stdout}",
                        pytrace=False)


def test_every_code_exercise_has_a_solution_and_a_chapter():
    chapters_text = "\n".join(p.read_text() for p in CHAPTERS.glob("*.md"))
    for name in code_exercises():
        assert (EXERCISES / name / "solution.patch").is_file(), name
        assert f"make exercise EX={name}" in chapters_text, (
            f"{name}: no chapter tells the reader to run its check")


def test_every_chapter_ends_with_exercises():
    """The story, every step's chapter and the conclusion; not the appendices."""
    story = sorted(CHAPTERS.glob("[0-9][0-9]-*.md")) + [CHAPTERS / "conclusion.md"]
    for chapter in story:
        text = chapter.read_text()
        headings = re.findall(r"^## (.+)$", text, re.M)
        assert headings and headings[-1].startswith("Exercises"), (
            f"{chapter.name}: the last section must be its exercises")
        exercises = re.findall(r"^\d+\. \*\*", text.split("## Exercises")[-1], re.M)
        assert 2 <= len(exercises) <= 4, (
            f"{chapter.name}: {len(exercises)} exercises; want 2 to 4")


def test_every_exercise_named_in_a_chapter_exists():
    for chapter in CHAPTERS.glob("*.md"):
        for name in re.findall(r"make exercise EX=([\w-]+)", chapter.read_text()):
            assert (EXERCISES / name / "check.py").is_file(), (
                f"{chapter.name} names exercise {name}, which has no check")


def test_a_chapter_quotes_an_exercise_patch_as_it_is():
    """A chapter may show a few lines of an exercise's patch (chapter 07
    shows the call made inside the loop, from blocking.patch) in a plain
    diff block, after naming the patch: every line shown is in it."""
    quote = re.compile(r"`chapters/exercises/([\w-]+/[\w-]+\.patch)`"
                       r"(?:(?!```).){0,400}?\n```diff\n(.*?)\n```", re.S)
    quoted = 0
    for chapter in CHAPTERS.glob("*.md"):
        for patch, block in quote.findall(chapter.read_text()):
            lines = set((EXERCISES / patch).read_text().splitlines())
            for line in block.splitlines():
                assert line in lines, (
                    f"{chapter.name} quotes a line {patch} does not have: {line!r}")
            quoted += 1
    assert quoted >= 1
