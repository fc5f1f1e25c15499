import Glibc

/// The checks a directory of Duet state must pass before root writes into it, after ssh's
/// StrictModes: state is written by root, so a directory (or a parent) that another user can
/// write lets that user plant a symbolic link or swap a file and steer root's writes.
public enum StateDirectory {
    /// Creates `path` if needed (mode 0700 for every directory it creates), then refuses it when it
    /// is not a real directory owned by this user, or when it or any parent is writable by another
    /// user (a parent with the sticky bit, like /tmp, is allowed: others cannot rename in it).
    /// A leaf that others may only read is narrowed to 0700: the ledger tells which disk ranges
    /// were read, which is nobody else's business.
    public static func prepare(_ path: String) throws(DuetError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0, errno != EEXIST {
                throw DuetError.system("mkdir", "the state directory \(prefix)")
            }
        }
        try check(path)
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & 0o077 != 0, chmod(path, 0o700) != 0 {
            throw DuetError.system("chmod 0700", "the state directory \(path)")
        }
    }

    /// The ownership and mode checks of `prepare`, for a directory that exists.
    public static func check(_ path: String) throws(DuetError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw DuetError.system("stat", "the state directory \(path)") }
        guard info.st_mode & S_IFMT != S_IFLNK else {
            throw DuetError(.permission, "the state directory \(path) is a symbolic link: refusing to follow it; give the real directory")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw DuetError(.system(errno: ENOTDIR), "the state directory \(path) is not a directory")
        }
        try requireSafe(path, info, what: "the state directory")
        for parent in parents(of: path) {
            guard stat(parent, &info) == 0 else { throw DuetError.system("stat", parent) }
            try requireSafe(parent, info, what: "\(parent), a parent of the state directory \(path),")
        }
    }

    private static func requireSafe(_ path: String, _ info: stat, what: String) throws(DuetError) {
        let me = geteuid()
        guard info.st_uid == me || info.st_uid == 0 else {
            throw DuetError(
                .permission,
                "\(what) is owned by uid \(info.st_uid), not by \(me == 0 ? "root" : "uid \(me)"): refusing to keep state there (chown it, or give another --state-dir)"
            )
        }
        let othersWrite = info.st_mode & 0o022 != 0
        let sticky = info.st_mode & S_ISVTX != 0
        guard !othersWrite || sticky else {
            throw DuetError(
                .permission,
                "\(what) is writable by other users (mode \(String(info.st_mode & 0o7777, radix: 8))): refusing to keep state there (chmod go-w it, or give another --state-dir)"
            )
        }
    }

    /// `/a/b/c` → `/a/b`, `/a`, `/`; a relative path's parents up to `.`.
    static func parents(of path: String) -> [String] {
        var components = path.split(separator: "/").map(String.init)
        var out: [String] = []
        while !components.isEmpty {
            components.removeLast()
            out.append(
                path.hasPrefix("/")
                    ? "/" + components.joined(separator: "/") : (components.isEmpty ? "." : components.joined(separator: "/")))
        }
        return out
    }
}

/// Opening state, lock and metrics files without ever following a symbolic link: a link planted
/// at one of their names must not make root write, truncate or lock the link's target.
public enum NoFollow {
    /// `open(2)` with `O_NOFOLLOW | O_CLOEXEC` added; a link at `path` fails with ELOOP.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) -> Int32 {
        Glibc.open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode)
    }

    /// A new file beside `path` under a name nobody could have planted: `.<name>.tmp-<random>`,
    /// created with `O_EXCL | O_NOFOLLOW`. Returns its descriptor and path.
    public static func createTemporary(beside path: String, mode: mode_t) throws(DuetError) -> (descriptor: Int32, path: String) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        for _ in 0..<16 {
            let candidate = "\(directory)/.\(name).tmp-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
            let descriptor = open(candidate, O_WRONLY | O_CREAT | O_EXCL, mode: mode)
            if descriptor >= 0 {
                // The umask must not narrow what the caller asked for (metrics are read by others).
                fchmod(descriptor, mode)
                return (descriptor, candidate)
            }
            if errno != EEXIST { throw DuetError.system("create", candidate) }
        }
        throw DuetError.system("create", "a temporary file beside \(path)", errno: EEXIST)
    }

    /// Whether `name` is one of `createTemporary`'s names (leftovers of a crash to clean up).
    public static func isTemporary(_ name: String, for target: String) -> Bool {
        name.hasPrefix(".\(target).tmp-")
    }

    /// An error for a failed open, saying plainly when a symbolic link was refused.
    public static func openError(_ path: String, errno code: Int32 = Glibc.errno) -> DuetError {
        if code == ELOOP {
            return DuetError(.permission, "\(path) is a symbolic link: refusing to follow it (remove it; Duet never writes through links)")
        }
        return DuetError.system("open", path, errno: code)
    }
}
