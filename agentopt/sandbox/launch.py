"""The launcher in front of a sandboxed environment server (Linux only).

    python -I -S .../agentopt/sandbox/launch.py --memory-mb M --cpu-s C --nproc N --fsize-mb F \
        --root-plan JSON -- ARGV...

It is started by its file path in an isolated interpreter (`-I -S`: no PYTHONPATH, no
site-packages, no `.pth` files, not even its own folder on the import path), so nothing on
the host that an environment could have written runs before the confinement is in place.
It runs as the server's parent and does, in order:

1. enter new user, network and PID namespaces (`unshare(2)`): the user namespace maps
   only our own uid and gid, so the server has no capability outside it (it cannot
   re-enter the host's network namespace or read other processes' environments); the
   network namespace has no interface but a loopback that is down, so there is no
   network at all; the PID namespace makes the host's processes unreachable by signal.
   As root without user namespaces it falls back to network + PID + mount only. When
   no namespace can be had it prints one line and exits UNAVAILABLE: the harness fails
   closed rather than run an unconfined server.
2. fork the server (PID 1 of its namespace), which moves into the new root of the plan
   (`rootfs.enter`: its own mount namespace, the host read-only and mostly absent, a fresh
   /proc, /tmp and /run), sets its resource limits, drops every capability from its
   bounding set, sets no_new_privs, and execs ARGV. If the root cannot be built it exits
   UNAVAILABLE;
3. stay as a small supervisor outside the PID namespace: it kills the server when its
   resident memory passes the limit or when the harness that launched it is gone
   (AGENTOPT_PARENT_PID), and explains a limit kill in the log's last line.

Only the standard library, so it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import os
import resource
import signal
import sys
import time

PREFIX = "agentopt sandbox: "
UNAVAILABLE = 97  # exit code: no namespace could be created (the harness fails closed)
EXEC_FAILED = 127
PARENT_PID = "AGENTOPT_PARENT_PID"

CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
MiB = 1024 * 1024


def _load_rootfs():
    """rootfs.py, beside this file, by its exact path (nothing is searched for)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rootfs.py")
    spec = importlib.util.spec_from_file_location("_agentopt_sandbox_rootfs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Unavailable(Exception):
    """No namespace could be created here."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> None:
    if _libc().unshare(flags) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def enter_namespaces() -> str:
    """Move this process into fresh namespaces; return which. Raises Unavailable."""
    uid, gid = os.geteuid(), os.getegid()
    try:
        _unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID)
    except OSError as exc:
        if uid != 0:
            raise Unavailable(
                f"cannot create user and network namespaces ({exc.strerror}); unprivileged user namespaces "
                "may be disabled here (sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces, or "
                "AppArmor's kernel.apparmor_restrict_unprivileged_userns)"
            ) from None
        try:
            _unshare(CLONE_NEWNET | CLONE_NEWPID)
        except OSError as exc2:
            raise Unavailable(f"cannot create a network namespace ({exc2.strerror})") from None
        return "network+pid+mount (no user namespace)"
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
        _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
    except OSError as exc:
        raise Unavailable(f"cannot map our user into a user namespace ({exc.strerror})") from None
    return "user+network+pid+mount"


def _set_limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def set_limits(memory_mb: int, cpu_s: int, nproc: int, fsize_mb: int) -> None:
    # Address space at twice the memory limit: one huge allocation fails at once (a
    # MemoryError), while the supervisor enforces the resident-memory limit itself
    # (address space counts reservations, e.g. thread stacks, that use no memory).
    _set_limit(resource.RLIMIT_AS, 2 * memory_mb * MiB)
    # soft == hard: the kernel sends SIGKILL at the limit (PID 1 of a namespace ignores
    # the SIGXCPU it would get at a lower soft limit).
    _set_limit(resource.RLIMIT_CPU, cpu_s)
    _set_limit(resource.RLIMIT_NPROC, nproc)
    _set_limit(resource.RLIMIT_FSIZE, fsize_mb * MiB)
    _set_limit(resource.RLIMIT_CORE, 0)


def drop_privileges() -> None:
    """No capability after exec (even for root), and no way to regain any (setuid binaries)."""
    libc = _libc()
    try:
        with open("/proc/sys/kernel/cap_last_cap") as file:
            last = int(file.read())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _die_like(status: int) -> None:
    """Exit as the server did, so the harness sees its exit code or signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


def supervise(pid: int, memory_mb: int, cpu_s: int, parent: int | None) -> None:
    limit = memory_mb * MiB

    def forward(signum: int, _frame) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    next_parent_check = 0.0
    while True:
        signal.sigtimedwait({signal.SIGCHLD}, 0.1)
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            cpu = usage.ru_utime + usage.ru_stime
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL and cpu >= cpu_s - 0.5:
                print(f"{PREFIX}the server used its CPU-time limit of {cpu_s} s and was killed", file=sys.stderr, flush=True)
            _die_like(status)
        rss = _rss_bytes(pid)
        if rss > limit:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            print(
                f"{PREFIX}the server used {rss / MiB:.0f} MiB, over its memory limit of {memory_mb} MiB, and was killed",
                file=sys.stderr,
                flush=True,
            )
            os.kill(os.getpid(), signal.SIGKILL)  # the harness sees "killed by SIGKILL"
        now = time.monotonic()
        if parent and now >= next_parent_check:
            next_parent_check = now + 0.5
            if not _alive(parent):
                os.kill(pid, signal.SIGKILL)
                os._exit(0)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        print(f"{PREFIX}usage: python -I -S launch.py [limits] --root-plan JSON -- ARGV...", file=sys.stderr)
        os._exit(2)
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="agentopt.sandbox.launch")
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--cpu-s", type=int, required=True)
    parser.add_argument("--nproc", type=int, required=True)
    parser.add_argument("--fsize-mb", type=int, required=True)
    parser.add_argument("--root-plan", required=True, help="rootfs.plan(...) as JSON")
    args = parser.parse_args(argv[:split])
    rootfs = _load_rootfs()
    plan = json.loads(args.root_plan)
    command = argv[split + 1 :]
    env = dict(os.environ)
    parent = env.pop(PARENT_PID, None)  # the supervisor watches the harness; the server cannot see it

    try:
        mode = enter_namespaces()
    except Unavailable as exc:
        print(PREFIX + str(exc), file=sys.stderr, flush=True)
        os._exit(UNAVAILABLE)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    print(f"{PREFIX}{mode} namespaces; limits: memory {args.memory_mb} MiB, CPU {args.cpu_s} s, "
          f"{args.nproc} processes, files {args.fsize_mb} MiB, private disk {plan['disk_mb']} MiB", file=sys.stderr, flush=True)
    pid = os.fork()
    if pid == 0:
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            try:
                notes = rootfs.enter(plan)
            except (rootfs.Refused, OSError) as exc:
                print(f"{PREFIX}cannot build the server's root filesystem ({exc})", file=sys.stderr, flush=True)
                os._exit(UNAVAILABLE)
            for note in notes:
                print(f"{PREFIX}{note}", file=sys.stderr, flush=True)
            set_limits(args.memory_mb, args.cpu_s, args.nproc, args.fsize_mb)
            drop_privileges()
            os.execvpe(command[0], command, env)
        except BaseException as exc:  # noqa: BLE001 - report and leave, whatever it was
            print(f"{PREFIX}cannot start {command[:1]}: {exc}", file=sys.stderr, flush=True)
        os._exit(EXEC_FAILED)
    supervise(pid, args.memory_mb, args.cpu_s, int(parent) if parent and parent.isdigit() else None)


if __name__ == "__main__":
    main()
