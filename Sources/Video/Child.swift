import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process (ffmpeg, ffprobe) spawned with posix_spawn: stdin from /dev/null, stdout
/// into a pipe read by us, stderr to a file (a pipe could fill and stall it) or inherited.
/// Foundation's Process keeps every Process object alive until exit (a leak under the
/// sanitizers) and needs a run loop thread; this needs neither.
final class Child {
    let pid: pid_t
    /// Our end of the child's stdout.
    let output: FileHandle
    private var status: Int32?

    /// `stderrPath`: a file for the child's stderr, or nil to share ours.
    init(_ executable: URL, _ arguments: [String], stderrPath: String?) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ChildError("cannot create a pipe: \(String(cString: strerror(errno)))") }
        // both ends close-on-exec, so another child spawned meanwhile does not inherit them (the
        // dup2 below gives this child its stdout); Glibc's pipe2 is not visible from Swift
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[1])
        if let stderrPath {
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable.path, &actions, nil, argv, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw ChildError("cannot run \(executable.path): \(String(cString: strerror(rc)))")
        }
        pid = child
        output = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
    }

    /// Waits for the child; its exit status (128 + signal when killed).
    @discardableResult
    func wait() -> Int32 {
        if let status { return status }
        var s: Int32 = 0
        var rc: pid_t
        repeat { rc = waitpid(pid, &s, 0) } while rc < 0 && errno == EINTR
        if rc < 0 {
            status = -1
            return -1
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG by hand: the macros are not imported
        let signal = s & 0x7F
        status = signal == 0 ? (s >> 8) & 0xFF : 128 + signal
        return status!
    }

    /// Stops the child now: closes our end (a blocked write fails) and kills it.
    func stop() {
        try? output.close()
        if status == nil { kill(pid, SIGKILL) }
        wait()
    }

    deinit { if status == nil { stop() } }

    /// Runs to the end and returns stdout.
    static func run(_ executable: URL, _ arguments: [String], stderrPath: String?) throws -> (Data, Int32) {
        let c = try Child(executable, arguments, stderrPath: stderrPath)
        let data = c.output.readDataToEndOfFile()
        return (data, c.wait())
    }
}

struct ChildError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
