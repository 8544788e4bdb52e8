"""What each step is built from: its own files and only the kitchen it
uses. A step whose chapter has not yet met the event cook does not link
it, and the event steps do not link the blocking cook: a reader who opens
a step's sources (steps/NN/Makefile, `make -C steps/NN sources`) sees its
architecture and nothing from a later chapter."""
import os
import subprocess

import pizzeria as pz
import readiness


def sources(step):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    made = subprocess.run(["make", "-s", "--no-print-directory", "-C",
                           str(step.dir), "sources"], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=30)
    assert made.returncode == 0, made.stdout
    return {os.path.basename(f) for f in made.stdout.split()}


def test_each_step_links_only_the_cook_it_uses(step):
    files = sources(step)
    assert "server.c" in files, files
    if readiness.one_cook_with_a_tablet(step):
        assert {"event_cook.c", "door.c"} <= files, files
        assert "blocking_cook.c" not in files, files
    else:
        assert "blocking_cook.c" in files, files
        assert not files & {"event_cook.c", "door.c"}, (
            f"{step.name} links a later chapter's cook: {sorted(files)}")
    missing = [f for f in files
               if not (step.dir / f).exists()
               and not (pz.STEPS_DIR / "kitchen" / f).exists()]
    assert not missing, missing
