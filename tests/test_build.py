"""What each step is built from: its own files and only the kitchen it
uses. A step whose chapter has not yet met the event cook does not link
it, and the event steps do not link the blocking cook: a reader who opens
a step's sources (steps/NN/Makefile, `make -C steps/NN sources`) sees its
architecture and nothing from a later chapter."""
import os
import shutil
import subprocess

import pytest

import pizzeria
import readiness

ROOT = pizzeria.ROOT


def sources(step):
    """The files `make sources` names, as paths from the step's directory
    (a step may link an earlier step's files: ../07-state-machine/loop.c)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    made = subprocess.run(["make", "-s", "--no-print-directory", "-C",
                           str(step.dir), "sources"], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=30)
    assert made.returncode == 0, made.stdout
    return set(made.stdout.split())


def test_each_step_links_only_the_cook_it_uses(step):
    paths = sources(step)
    missing = [p for p in paths if not (step.dir / p).exists()]
    assert not missing, missing
    files = {os.path.basename(p) for p in paths}
    assert "server.c" in files, files
    if step["worker_processes"]:
        # Every worker runs step 07's kitchen: linked, not copied.
        assert {"event_cook.c", "door.c", "kitchen_loop.c"} <= files, files
        assert {p for p in paths if p.endswith("kitchen_loop.c")} == \
            {"../07-state-machine/kitchen_loop.c"}, paths
        assert "blocking_cook.c" not in files, files
    elif readiness.one_cook_with_a_tablet(step):
        assert "door.c" in files and "blocking_cook.c" not in files, files
        if "kitchen_loop.c" in files and "event_visit.c" not in files:
            # Step 07's tables holding a visit of the step's own (step
            # 10's coroutine): the state machine it replaces is not linked.
            assert "visit.c" in files, files
            assert "event_cook.c" not in files, files
        else:
            assert "event_cook.c" in files, files
    else:
        assert "blocking_cook.c" in files, files
        assert not files & {"event_cook.c", "door.c"}, (
            f"{step.name} links a later chapter's cook: {sorted(files)}")


@pytest.mark.parametrize("compiler", ["cc", "clang"])
def test_the_kqueue_loop_shown_in_chapter_09_compiles(compiler):
    """steps/09-io-uring/elsewhere/kqueue_loop.c is the shape of a loop on
    the BSDs' kqueue, quoted by chapter 09. This machine cannot run it;
    against a stub of <sys/event.h> it must at least compile."""
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed")
    source = ROOT / "steps/09-io-uring/elsewhere/kqueue_loop.c"
    r = subprocess.run([compiler, "-std=c11", "-Wall", "-Wextra", "-Werror",
                        "-fsyntax-only", str(source)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    assert r.returncode == 0, r.stdout
