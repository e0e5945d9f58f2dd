using System.Globalization;
using InfraMind.Containers;
using InfraMind.Serving;

namespace InfraMind.Cli;

/// <summary>
/// <c>$INFRAMIND_HOME/run/mesh.pid</c>: the process of the `infra mesh up` running on this home, so that `infra mesh down`
/// (from another terminal, or a script that started it with &amp;) can stop it. It holds the PID and the process's start
/// time (<c>/proc/PID/stat</c> field 22, clock ticks since boot): a PID is reused once its process is gone, and a record
/// whose start time differs names another process, which is never signalled.
/// </summary>
internal static class MeshRecord
{
    /// <summary>What the label <see cref="HomeLabel"/> holds on every container `mesh up` starts: the home it ran on.</summary>
    public const string HomeLabel = "org.inframind.mesh-home";

    public static string File(InfraHome home) => Path.Combine(home.Root, "run", "mesh.pid");

    /// <summary>The value of <see cref="HomeLabel"/> for <paramref name="home"/>: its full path, the same whichever way it was named.</summary>
    public static string HomeId(InfraHome home) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(home.Root));

    /// <summary>
    /// Claims <paramref name="home"/> for this process: writes the record (a temporary file moved into place, so `mesh
    /// down` never reads half a record) only where there is none, in one step. Of two `mesh up` started at once, one
    /// claims the home and the other gets <see cref="AlreadyRunning"/>, from the start on: `mesh down` also stops a mesh
    /// still starting (SIGTERM then is as Ctrl-C, whose cleanup removes what it started). Disposing the claim removes
    /// the record if it still names this process.
    /// </summary>
    public static IDisposable Claim(InfraHome home)
    {
        var file = File(home);
        var pid = Environment.ProcessId;
        // Made only where no record is, whole, in one step (AtomicFile.CreateOnce: link(2)); readable by all, as before.
        if (!AtomicFile.CreateOnce(file, System.Text.Encoding.UTF8.GetBytes($"{pid} {StartTime(pid)}\n"), AtomicFile.ReadableByAll))
            throw AlreadyRunning(home, Read(home)?.Pid);

        return new Claimed(home);
    }

    /// <summary>IM6049: a mesh of <paramref name="home"/> runs (PID <paramref name="pid"/> where known).</summary>
    public static InfraMindException AlreadyRunning(InfraHome home, int? pid) =>
        new(MeshErrorCodes.MeshAlreadyRunning,
            $"a mesh of this INFRAMIND_HOME ({HomeId(home)}) already runs: `infra mesh up`{(pid is { } p ? $", PID {p}" : "")}");

    private sealed class Claimed(InfraHome home) : IDisposable
    {
        public void Dispose()
        {
            if (Read(home) is { } r && r.Pid == Environment.ProcessId && r.StartTime == StartTime(r.Pid)) System.IO.File.Delete(File(home));
        }
    }

    /// <summary>
    /// The mesh the record names while it runs: a live process of the recorded start time that is `infra … mesh up`.
    /// Null when none runs; <paramref name="stale"/> then says whether a record is there all the same (its mesh died, or
    /// its PID now names another process), for <see cref="ClearStaleAsync"/>.
    /// </summary>
    public static (int Pid, string StartTime)? Running(InfraHome home, out bool stale)
    {
        var record = Read(home);
        stale = record is null && System.IO.File.Exists(File(home));
        if (record is { } r && (StartTime(r.Pid) != r.StartTime || !LooksLikeMeshUp(r.Pid)))
        {
            stale = true;
            return null;
        }

        return record;
    }

    /// <summary>
    /// Removes a stale record and the containers of the mesh of this home that died without cleaning up (kill -9):
    /// only those InfraMind labelled as started by `mesh up` on this very home (<see cref="HomeLabel"/>), never another
    /// home's or anyone else's. `mesh down` and `mesh up` both clear a stale record this way. No engine answering:
    /// nothing to remove that this command could reach, noted on <paramref name="notes"/> (when given) and not failed.
    /// </summary>
    /// <returns>The ids of the containers removed; null when this call removed nothing (the record was cleared or claimed since).</returns>
    public static async Task<IReadOnlyList<string>?> ClearStaleAsync(InfraHome home, TextWriter? notes, CancellationToken cancellationToken)
    {
        // Read again: stale when the caller looked, the home may be claimed since (two `mesh up` at once after a dead one,
        // or a `mesh up` beside this `mesh down`). A live mesh's record, and its containers, are never this call's.
        if (Running(home, out var stale) is not null || !stale) return null;
        System.IO.File.Delete(File(home));
        try
        {
            using var engine = await ContainerEngine.ConnectAsync(cancellationToken);
            var removed = await engine.PruneAsync(new Dictionary<string, string> { [HomeLabel] = HomeId(home) }, null, cancellationToken);
            return removed.Containers;
        }
        catch (InfraMindException e) when (e.Code.Kind == FailureKind.EngineUnavailable)
        {
            if (notes is not null) await notes.WriteLineAsync($"note: the containers the dead mesh left were not looked for: {e.Message}");
            return [];
        }
    }

    /// <summary>The recorded PID and start time; null when there is no record, or none that reads as one (then it is stale).</summary>
    public static (int Pid, string StartTime)? Read(InfraHome home)
    {
        string text;
        try
        {
            text = System.IO.File.ReadAllText(File(home));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        var parts = text.Split(' ', '\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 1 ? (pid, parts[1]) : null;
    }

    /// <summary>
    /// When process <paramref name="pid"/> started: on Linux <c>/proc/PID/stat</c>'s field 22 (clock ticks since boot,
    /// exact); elsewhere the start time .NET reports, in ticks. Null when no such process runs (a zombie runs nothing).
    /// </summary>
    public static string? StartTime(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            string stat;
            try
            {
                stat = System.IO.File.ReadAllText($"/proc/{pid}/stat");
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
            {
                return null;
            }

            // Field 2 is the command's name in parentheses, which may hold spaces and ')': the fields after the last ')'
            // are field 3 onwards, so field 22 is the 20th of them.
            var rest = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // Field 3, the state: a zombie (Z, or X when dead) has exited, though a parent that does not reap it keeps its
            // /proc entry; `mesh down` would otherwise wait its whole --timeout for a mesh that stopped.
            if (rest.Length > 0 && rest[0] is "Z" or "X") return null;
            return rest.Length > 19 ? rest[19] : null;
        }

        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return p.StartTime.ToUniversalTime().Ticks.ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether process <paramref name="pid"/> runs `infra … mesh up` (the apphost `infra`, or `dotnet infra.dll`): a
    /// second check, beside the start time, that the record names a mesh. True where the command line cannot be read
    /// (not Linux): the start time alone decides there.
    /// </summary>
    public static bool LooksLikeMeshUp(int pid)
    {
        if (!OperatingSystem.IsLinux()) return true;
        string[] args;
        try
        {
            args = System.IO.File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            return false;
        }

        var infra = Array.FindIndex(args, a => Path.GetFileName(a) is "infra" or "infra.dll" or "infra.exe");
        if (infra < 0) return false;
        var mesh = Array.IndexOf(args, "mesh", infra + 1);
        return mesh > 0 && Array.IndexOf(args, "up", mesh + 1) > 0;
    }
}
