"""The filesystem a sandboxed environment server sees: a new, mostly read-only root.

Two halves, standard library only, because the launcher (`launch.py`) loads this file by
its path in an isolated interpreter (`python -I -S`), before anything the environment
could have written can run:

* `plan(argv, ...)`, in the harness: what the server needs, as a JSON-able dict. Read-only:
  the system (`/usr` and its `/bin`, `/lib` links), a short list of `/etc` files, the
  Python installation and virtualenv, the package dirs of editable installs, agentopt
  itself, the environment's own module (`pkg.mod:factory` in the command: only that
  package, not the folder it sits in) and every file the command names (a dataset, the
  schema beside it, a server script). Writable: one size-limited tmpfs, the server's
  private folder (its cwd, HOME, TMPDIR, `/tmp` and `/dev/shm`), fresh at every launch;
  and the directory holding the server's Unix socket.
* `enter(plan)`, in the server's process (PID 1 of its namespace, still privileged in its
  user namespace): a new mount namespace, a tmpfs root holding exactly the plan's mounts,
  a fresh `/proc` of the PID namespace, a minimal `/dev`, `pivot_root` into it and the old
  root detached. Nothing else of the host (the harness's working directory, its cache and
  run folders, `/tmp`, home folders, `/run` and every Unix socket file in them) exists there.
"""

from __future__ import annotations

import ast
import ctypes
import os
import platform
import re
import sys

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = (
    "passwd", "group", "hosts", "host.conf", "resolv.conf", "nsswitch.conf", "gai.conf", "protocols", "services",
    "localtime", "timezone", "ssl", "ca-certificates", "ca-certificates.conf", "pki", "crypto-policies",
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "mime.types", "os-release", "fonts",
)
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
MODULE_REF = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


# --- the plan (harness side) ---


def _resolve(path: str, links: dict[str, str]) -> str:
    """The real path of `path`; every symlink met on the way is recorded in `links`, so
    the same names work inside the new root (`/bin -> usr/bin`, a venv's `python`)."""
    path = os.path.abspath(path)
    parts = path.strip("/").split("/")
    current = "/"
    for part in parts:
        candidate = os.path.join(current, part)
        hops = 0
        while os.path.islink(candidate) and hops < 40:
            target = os.readlink(candidate)
            links.setdefault(candidate, target)
            candidate = os.path.normpath(os.path.join(os.path.dirname(candidate), target))
            hops += 1
        current = candidate
    return current


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _editable_packages(site_dirs: list[str]) -> list[str]:
    """The package folders of setuptools editable installs (their finder's MAPPING)."""
    found = []
    for site in site_dirs:
        try:
            names = os.listdir(site)
        except OSError:
            continue
        for name in names:
            if name.startswith("__editable__") and name.endswith("_finder.py"):
                try:
                    with open(os.path.join(site, name), encoding="utf-8") as file:
                        source = file.read()
                    match = re.search(r"^MAPPING\s*(?::[^=]*)?=\s*(\{.*?\})\s*$", source, re.M | re.S)
                    found += list(ast.literal_eval(match.group(1)).values()) if match else []
                except (OSError, ValueError, SyntaxError):
                    continue
    return found


def _module_paths(ref: str, search: list[str]) -> list[str]:
    """Where the top-level package of `pkg.mod:factory` lives, searched on `search` (the
    server's PYTHONPATH): its folder, or its single file. Nothing is imported."""
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec(ref.split(":")[0].split(".")[0], search)
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return list(spec.submodule_search_locations)
    return [spec.origin] if spec.origin and os.path.isfile(spec.origin) else []


def importables(folder: str) -> list[str]:
    """What `import` can find directly in `folder`: packages (with `__init__.py`) and modules."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(folder, name)
        if name.endswith((".py", ".so")) and os.path.isfile(path) or name.isidentifier() and os.path.isfile(os.path.join(path, "__init__.py")):
            found.append(path)
    return found


def named_files(argv: list[str]) -> list[str]:
    """Files the command names by absolute path (`/x/f.py`, `path=/x/d.jsonl`), each with the
    files beside it that share its stem (`d.schema.json`, `d.jsonl.schema.json`)."""
    files: list[str] = []
    for arg in argv[1:]:
        value = arg.partition("=")[2] if "=" in arg and not arg.startswith("/") else arg
        if not (os.path.isabs(value) and os.path.isfile(value)):
            continue
        folder, base = os.path.split(os.path.realpath(value))
        files.append(os.path.join(folder, base))
        try:
            stem = base.split(".")[0] if not base.startswith(".") else base
            files += [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.startswith(stem + ".")]
        except OSError:
            pass
    return list(dict.fromkeys(files))


def plan(
    argv: list[str],
    *,
    private_dir: str,
    socket_dir: str,
    cwd: str,
    disk_mb: int,
    pythonpath: list[str],
    extra: tuple[str, ...] = (),
    python_paths: list[str] | None = None,
) -> dict:
    """What `enter` builds for the server `argv`. `private_dir` becomes the writable tmpfs;
    `socket_dir` (on the host) is the one host folder bound writable; `pythonpath` is the
    server's PYTHONPATH (for finding its module); `extra` are more read-only paths the user
    asked for (AGENTOPT_SANDBOX_MOUNT); `python_paths` default to this interpreter's (its
    prefixes, site-packages, editable installs and sys.path)."""
    links: dict[str, str] = {}
    import_path = list(pythonpath)
    if python_paths is None:
        import_path += sys.path
        import site
        import sysconfig

        python_paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))]
        python_paths += list(sysconfig.get_paths().values())
        sites = [p for p in sys.path if p.endswith("-packages")] + site.getsitepackages()
        python_paths += _editable_packages(sites)
        python_paths.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the agentopt package
    wanted = list(SYSTEM) + [f"/etc/{name}" for name in ETC] + python_paths + list(extra)
    modules = [path for arg in argv if MODULE_REF.match(arg) for path in _module_paths(arg, pythonpath)]
    wanted += modules
    # Other folders on the import path (PYTHONPATH, .pth entries): their packages and modules,
    # never the folder itself with whatever else it holds. The harness's working directory
    # only when the environment's own module lives there (`--env my_env:app` beside its helpers).
    installed = [os.path.realpath(p) for p in python_paths]
    homes = {os.path.dirname(os.path.realpath(m.rstrip("/"))) for m in modules}
    here = os.path.realpath(os.getcwd())
    for folder in import_path:
        real = os.path.realpath(folder) if folder else ""
        if real and not any(_inside(real, p) for p in installed) and (real != here or real in homes):
            wanted += importables(folder)
    wanted += named_files(argv)
    if argv and os.path.isabs(argv[0]):
        wanted.append(argv[0])
    readonly: list[str] = []
    for path in wanted:
        if not path or not os.path.lexists(path):
            continue
        real = _resolve(path, links)
        if os.path.exists(real) and not any(_inside(real, done) for done in readonly):
            readonly = [done for done in readonly if not _inside(done, real)] + [real]
    private = os.path.realpath(private_dir)
    if any(_inside(private, path) for path in readonly):
        raise ValueError(f"the sandbox's private folder {private} lies inside a read-only mount")
    return {
        "root": os.path.join(private, "root"),
        "readonly": sorted(readonly),
        "links": sorted(links.items()),
        "private": private,
        "socket_dir": os.path.realpath(socket_dir),
        "cwd": os.path.join(private, os.path.relpath(cwd, private_dir)) if _inside(cwd, private_dir) else private,
        "disk_mb": disk_mb,
    }


# --- entering it (the server's process, before exec) ---

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 1, 2, 4
_GENERIC = {"mount_setattr": 442, "landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446}
SYSCALLS = {"x86_64": {"pivot_root": 155, **_GENERIC}, "aarch64": {"pivot_root": 41, **_GENERIC}}
# statvfs flags that a bind remount must keep (the kernel locks them in a user namespace)
KEEP = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC))


class Refused(Exception):
    """The new root could not be built: the launcher fails closed."""


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


class _Kernel:
    def __init__(self) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        numbers = SYSCALLS.get(platform.machine())
        if numbers is None:
            raise Refused(f"no pivot_root for this machine ({platform.machine()})")
        self.numbers: dict[str, int] = numbers

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise Refused(f"{what}: {os.strerror(errno)}")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        enc = lambda s: s.encode() if s is not None else None  # noqa: E731
        self._check(self.libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")

    def readonly(self, target: str) -> None:
        """Read-only, with every mount under it (mount_setattr), else its top mount only."""
        attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, 0)
        fd = os.open(target, os.O_PATH | os.O_CLOEXEC)
        try:
            done = self.libc.syscall(self.numbers["mount_setattr"], fd, b"", 0x1000 | AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr))
        finally:
            os.close(fd)
        if done != 0:  # kernels before 5.12
            flags = os.statvfs(target).f_flag
            keep = sum(ms for st, ms in KEEP if flags & st)
            self.mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | keep)

    def pivot_root(self, new: str, old: str) -> None:
        self._check(self.libc.syscall(self.numbers["pivot_root"], new.encode(), old.encode()), "pivot_root")

    def umount(self, target: str) -> None:
        self._check(self.libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")

    def unshare(self, flags: int) -> None:
        self._check(self.libc.unshare(flags), "unshare")


# Landlock file-system rights (linux/landlock.h), by ABI version: 13 rights in v1, REFER in v2,
# TRUNCATE in v3. (IOCTL_DEV, v5, is left unhandled: device ioctls stay as they were.)
LL_EXECUTE, LL_WRITE_FILE, LL_READ_FILE, LL_READ_DIR = 1, 2, 4, 8
LL_TRUNCATE = 1 << 14
LL_READ = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock(k: _Kernel, writable: list[str]) -> str | None:
    """A second layer under the mounts: read and execute anywhere in the new root, write
    only beneath `writable` (and to /dev's files). Returns why not, where the kernel has
    no Landlock (the mounts alone then hold)."""
    sys_ = k.libc.syscall
    abi = sys_(k.numbers["landlock_create_ruleset"], None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return f"no Landlock in this kernel ({os.strerror(ctypes.get_errno())})"
    every = (1 << 13) - 1 if abi == 1 else (1 << 14) - 1 if abi == 2 else (1 << 15) - 1
    attr = _RulesetAttr(every)
    ruleset = sys_(k.numbers["landlock_create_ruleset"], ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"no Landlock ruleset ({os.strerror(ctypes.get_errno())})"
    try:
        rules = [("/", LL_READ), ("/dev", LL_READ | LL_WRITE_FILE | (LL_TRUNCATE & every)),
                 ("/proc", LL_READ | LL_WRITE_FILE)] + [(path, every) for path in writable]
        for path, access in rules:
            if not os.path.exists(path):
                continue
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                beneath = _PathBeneath(access & every, fd)
                k._check(sys_(k.numbers["landlock_add_rule"], ruleset, 1, ctypes.byref(beneath), 0), f"landlock rule {path}")
            finally:
                os.close(fd)
        k._check(sys_(k.numbers["landlock_restrict_self"], ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return None


def _mountpoint(root: str, path: str, like: str) -> str:
    inner = root + path
    if os.path.isdir(like):
        os.makedirs(inner, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(inner), exist_ok=True)
        if not os.path.lexists(inner):
            open(inner, "w").close()
    return inner


def enter(spec: dict) -> list[str]:
    """Build the plan's root at `spec["root"]` (an empty host folder) and pivot into it;
    return notes for the log (what could not be had but does not weaken the confinement)."""
    root = spec["root"]
    k = _Kernel()
    notes: list[str] = []
    k.unshare(CLONE_NEWNS)  # our own mount table: the supervisor keeps the host's
    k.mount(None, "/", None, MS_REC | MS_PRIVATE)
    k.mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=8m")
    for link, target in spec["links"]:
        os.makedirs(os.path.dirname(root + link), exist_ok=True)
        if not os.path.lexists(root + link):
            os.symlink(target, root + link)
    # One size-limited tmpfs is all the server may write: /tmp, holding its private folder
    # (cwd, HOME, TMPDIR) at the same path as on the host, and /dev/shm.
    private = spec["private"]
    k.mount("tmpfs", _mountpoint(root, "/tmp", "/"), "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={int(spec['disk_mb'])}m")
    inner_private = root + private
    if not _inside(private, "/tmp"):
        os.makedirs(f"{root}/tmp/.private", mode=0o700)
        k.mount(f"{root}/tmp/.private", _mountpoint(root, private, "/"), None, MS_BIND)
    for sub in ("work", "home", "tmp", "shm", "sock"):
        os.makedirs(os.path.join(inner_private, sub), mode=0o700, exist_ok=True)
    k.mount(spec["socket_dir"], _mountpoint(root, spec["socket_dir"], "/"), None, MS_BIND | MS_NOSUID | MS_NODEV)
    for path in spec["readonly"]:
        inner = _mountpoint(root, path, path)
        k.mount(path, inner, None, MS_BIND | MS_REC)
        k.readonly(inner)
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            k.mount(f"/dev/{name}", _mountpoint(root, f"/dev/{name}", f"/dev/{name}"), None, MS_BIND)
    k.mount(inner_private + "/shm", _mountpoint(root, "/dev/shm", "/"), None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    for empty in ("/run", "/var/run", "/proc"):
        if not os.path.lexists(root + empty):
            os.makedirs(root + empty)
    try:
        k.mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except Refused as exc:
        notes.append(f"no /proc ({exc})")
    k.mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(root)
    k.pivot_root(".", ".")
    k.umount(".")  # the old root, stacked under the new one, is gone
    os.chdir(spec["cwd"] if os.path.isdir(spec["cwd"]) else "/")
    missing = landlock(k, ["/tmp", "/dev/shm", private, spec["socket_dir"]])
    if missing:
        notes.append(missing)
    return notes
