"""The Docker SDK for Python (Debian's python3-docker) against an engine: containers, exec in
every mode (50 in a row each, so a race fails it), images, events and the daemon calls, each
checked against what dockerd 20.10 answers. The same script passes against the reference
dockerd (run it with that engine's address to see); the integration test runs it against berth.

    python3 docker_py_suite.py unix:///path/docker.sock IMAGE ARCHIVE

IMAGE is a busybox image the engine has; ARCHIVE a `docker save` archive of another image
(loaded, tagged, saved and removed here). Prints one line per failed check and, last,
"checks: N failed: M". Exits 1 when any check failed.
"""
import io
import sys
import tarfile
import time

import docker

host, image, archive = sys.argv[1], sys.argv[2], sys.argv[3]
client = docker.DockerClient(base_url=host, version="1.41", timeout=120)
api = client.api
checks = 0
failures = []


def check(what, got, expected):
    global checks
    checks += 1
    if got != expected:
        failures.append("%s: got %r, expected %r" % (what, got, expected))


def raises(what, exception, call):
    global checks
    checks += 1
    try:
        call()
    except exception as e:
        return e
    except Exception as e:  # noqa: BLE001 - the wrong kind is the failure reported
        failures.append("%s: raised %s %r, expected %s" % (what, type(e).__name__, e, exception.__name__))
        return None
    failures.append("%s: no error, expected %s" % (what, exception.__name__))
    return None


# --- the daemon -----------------------------------------------------------------------------
check("ping", client.ping(), True)
version = client.version()
check("version has ApiVersion", "ApiVersion" in version, True)
check("version Os", version.get("Os"), "linux")
info = client.info()
check("info has Containers", isinstance(info.get("Containers"), int), True)
check("info Driver", isinstance(info.get("Driver"), str), True)
df = client.df()
check("df keys", sorted(k for k in ("Images", "Containers", "Volumes") if k in df), ["Containers", "Images", "Volumes"])

# --- containers ---------------------------------------------------------------------------------
since = int(time.time()) - 1
c = client.containers.create(image, ["sh", "-c", "echo out; sleep 0.2; echo err >&2; exit 3"], name="pysuite-one",
                             network_mode="none", labels={"suite": "docker-py"})
check("created status", c.status, "created")
c.start()
check("wait", c.wait(timeout=60)["StatusCode"], 3)
c.reload()
check("exited status", c.status, "exited")
check("exit code attr", c.attrs["State"]["ExitCode"], 3)
check("logs both", c.logs(), b"out\nerr\n")
check("logs stdout", c.logs(stderr=False), b"out\n")
check("logs stderr", c.logs(stdout=False), b"err\n")
check("inspect Name", c.attrs["Name"], "/pysuite-one")
check("inspect labels", c.attrs["Config"]["Labels"], {"suite": "docker-py"})
check("inspect NetworkMode", c.attrs["HostConfig"]["NetworkMode"], "none")
check("list by label", [x.name for x in client.containers.list(all=True, filters={"label": "suite=docker-py"})],
      ["pysuite-one"])
c.remove()
raises("get removed", docker.errors.NotFound, lambda: client.containers.get("pysuite-one"))
# Its events, read back at once (dockerd keeps only the last 256 events).
actions = [(ev.get("Type"), ev.get("Action")) for ev in
           client.events(since=since, until=int(time.time()) + 1, decode=True, filters={"container": "pysuite-one"})]
check("events of pysuite-one", [a for a in actions if a[1] in ("create", "start", "die", "destroy")],
      [("container", "create"), ("container", "start"), ("container", "die"), ("container", "destroy")])

out = client.containers.run(image, ["echo", "run-output"], network_mode="none", remove=True)
check("run output", out, b"run-output\n")
e = raises("run failing command", docker.errors.ContainerError,
           lambda: client.containers.run(image, ["sh", "-c", "exit 7"], network_mode="none", remove=True))
check("ContainerError exit", getattr(e, "exit_status", None), 7)

long = client.containers.run(image, ["sleep", "300"], name="pysuite-long", network_mode="none", detach=True)
long.reload()
check("running", long.status, "running")
check("top has sleep", any("sleep" in " ".join(p) for p in long.top()["Processes"]), True)
long.kill()
check("kill waits for the exit", client.api.inspect_container(long.id)["State"]["ExitCode"], 137)
long.start()
long.restart(timeout=0)
long.reload()
check("restarted running", long.status, "running")
long.stop(timeout=0)
long.reload()
check("stopped", long.status, "exited")
long.start()
long.reload()
check("running again", long.status, "running")
e = raises("remove running conflict", docker.errors.APIError, long.remove)
# 409 naming the state (dockerd 20.10: "You cannot remove a running container ..."; moby 23+:
# "cannot remove container ...: container is running: stop the container ...").
check("remove running conflict status", getattr(e, "status_code", None), 409)
check("remove running conflict says running", "running container" in str(getattr(e, "explanation", "")) or
      "container is running" in str(getattr(e, "explanation", "")), True)
long.remove(force=True)

# attach(logs=True) on a finished container is not checked here: against dockerd 20.10, docker-py
# returns b"" (the frames arrive with the 101 and it reads past them). containers_test checks
# the same request's answer as dockerd gives it (AttachWithLogsToAnExitedContainer...).

# --- exec, 50 in a row in every mode ------------------------------------------------------------
ex = client.containers.run(image, ["sleep", "300"], name="pysuite-exec", network_mode="none", detach=True)
wrong = []
for i in range(50):
    r = ex.exec_run(["echo", "n%d" % i])
    if r.output != b"n%d\n" % i or r.exit_code != 0:
        wrong.append(("exec_run", i, r))
for i in range(50):
    eid = api.exec_create(ex.id, ["sh", "-c", "echo o%d; echo e%d >&2" % (i, i)])["Id"]
    got = api.exec_start(eid, demux=True)
    if got != (b"o%d\n" % i, b"e%d\n" % i):
        wrong.append(("demux", i, got))
for i in range(50):
    eid = api.exec_create(ex.id, ["echo", "s%d" % i])["Id"]
    got = b"".join(api.exec_start(eid, stream=True))
    if got != b"s%d\n" % i:
        wrong.append(("stream", i, got))
for i in range(50):
    eid = api.exec_create(ex.id, ["echo", "t%d" % i], tty=True)["Id"]
    got = api.exec_start(eid, tty=True)
    if got != b"t%d\r\n" % i:
        wrong.append(("tty", i, got))
check("exec outputs", wrong, [])
r = ex.exec_run(["sh", "-c", "exit 5"])
check("exec exit code", r.exit_code, 5)
r = ex.exec_run(["nosuchcmd"])
check("exec missing command code", r.exit_code, 126)
r = ex.exec_run(["sh", "-c", "echo $FOO; id -u; pwd"], environment={"FOO": "bar"}, user="65534", workdir="/bin")
check("exec env user workdir", r.output, b"bar\n65534\n/bin\n")
ex.remove(force=True)

pruned = client.containers.prune()
check("prune keys", sorted(pruned.keys()), ["ContainersDeleted", "SpaceReclaimed"])

# --- images -------------------------------------------------------------------------------------
with open(archive, "rb") as f:
    loaded = client.images.load(f.read())
check("load one image", len(loaded), 1)
img = loaded[0]
# (The archive may hold the same image as IMAGE: its other tags are listed too.)
check("load tag", "pysuite/loaded:1" in img.tags, True)
check("tag", img.tag("pysuite/loaded", "2"), True)
img.reload()
check("tags after tag", {"pysuite/loaded:1", "pysuite/loaded:2"} <= set(img.tags), True)
check("history has a layer", len(img.history()) >= 1, True)
saved = b"".join(img.save(named=True))
with tarfile.open(fileobj=io.BytesIO(saved)) as t:
    names = t.getnames()
check("save has manifest.json", "manifest.json" in names, True)
check("images list by name", {"pysuite/loaded:1", "pysuite/loaded:2"} <=
      {t for i in client.images.list(name="pysuite/loaded") for t in i.tags}, True)
client.images.remove("pysuite/loaded:2")
raises("get removed tag", docker.errors.ImageNotFound, lambda: client.images.get("pysuite/loaded:2"))
client.images.remove("pysuite/loaded:1")
raises("get removed image", docker.errors.ImageNotFound, lambda: client.images.get("pysuite/loaded:1"))
raises("load garbage", docker.errors.ImageLoadError, lambda: client.images.load(b"abc"))
check("prune keys", sorted(client.images.prune().keys()), ["ImagesDeleted", "SpaceReclaimed"])

for f in failures:
    print(f)
print("checks: %d failed: %d" % (checks, len(failures)))
sys.exit(1 if failures else 0)
