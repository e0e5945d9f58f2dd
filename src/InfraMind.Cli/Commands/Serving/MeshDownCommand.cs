using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using InfraMind.Containers;
using InfraMind.Serving;
using Spectre.Console;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>
/// `infra mesh down`: stops the `infra mesh up` running on this home (recorded in $INFRAMIND_HOME/run/mesh.pid) with
/// SIGTERM, as Ctrl-C would, and waits for it to remove its containers and exit. Nothing running is no failure (as
/// `docker compose down`); a mesh that died without cleaning up (kill -9) leaves a stale record, and containers this
/// command removes by the home's label.
/// </summary>
internal static partial class MeshDownCommand
{
    private const int SigTerm = 15;

    public static Command Create(CliContext context)
    {
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the mesh to exit after SIGTERM (1-3600)", DefaultValueFactory = _ => 30, HelpName = "SECONDS" };
        timeout.Require(v => v is >= 1 and <= 3600, "--timeout must be between 1 and 3600 seconds");
        var json = new Option<bool>("--json") { Description = "Print {running, pid, stopped, staleRecord, containersRemoved} as JSON (containersRemoved: what a mesh that died left and mesh down removed; a mesh that stops removes its own, so 0 then)" };
        var down = new Command("down",
            "Stop the `infra mesh up` running with this INFRAMIND_HOME (from another shell, or started with &): SIGTERM, then wait for it to remove its containers and exit. " +
            "It stops only the process its record ($INFRAMIND_HOME/run/mesh.pid) names, and only if that process started when recorded and is `infra mesh up`: a reused PID is never signalled. " +
            "With no mesh running it says so and exits 0; a stale record (the mesh was killed) is removed, with the containers that mesh left.\n" +
            "Exit codes: 0 stopped, or nothing was running, 2 usage error, 4 the mesh still runs after --timeout (IM6048).")
        {
            timeout, json,
        };
        down.SetAction(async (parse, cancellationToken) =>
        {
            var asJson = parse.GetValue(json);
            // A record whose mesh is gone, or whose PID now names another process: never signalled.
            var record = MeshRecord.Running(context.Home, out var stale);
            var file = MeshRecord.File(context.Home);
            if (record is null)
            {
                // Null: another command cleared the record first (or a mesh up claimed the home since): nothing of it was this one's.
                var removed = stale ? await MeshRecord.ClearStaleAsync(context.Home, asJson ? null : context.Error, cancellationToken) : null;
                if (asJson) CliJson.Write(context.Output, new { running = false, pid = (int?)null, stopped = false, staleRecord = removed is not null, containersRemoved = removed?.Count ?? 0 });
                else
                    context.Console.MarkupLine(removed is not null
                        ? $"no mesh was running (removed the stale record {ConsoleText.Escape(file)}{(removed.Count > 0 ? $" and {removed.Count} container(s) the dead mesh left" : "")})"
                        : "no mesh was running");
                return ExitCodes.Ok;
            }

            var (pid, _) = record.Value;
            if (Kill(pid, SigTerm) != 0 && MeshRecord.StartTime(pid) is not null)
                throw new InfraMindException(MeshErrorCodes.MeshDidNotStop, $"could not signal the mesh (PID {pid}): {Marshal.GetLastPInvokeErrorMessage()}",
                    $"stop it as the user that started it, or with kill -KILL {pid}");
            var limit = TimeSpan.FromSeconds(parse.GetValue(timeout));
            var clock = Stopwatch.StartNew();
            var said = TimeSpan.Zero;
            await context.Error.WriteLineAsync($"stopping the mesh (PID {pid}): removing its containers…");
            // Polled, not awaited: the mesh is no child of this process. Exited when /proc/PID is gone or names a process of another start.
            while (MeshRecord.StartTime(pid) == record.Value.StartTime)
            {
                if (clock.Elapsed >= limit)
                    throw new InfraMindException(MeshErrorCodes.MeshDidNotStop, $"the mesh (PID {pid}) still runs {limit.TotalSeconds:0} s after SIGTERM",
                        $"wait longer (--timeout SECONDS), or kill it with kill -KILL {pid} and then run infra mesh down again to remove the containers it leaves");
                if (clock.Elapsed - said >= TimeSpan.FromSeconds(5))
                {
                    said = clock.Elapsed;
                    await context.Error.WriteLineAsync($"  still stopping ({said.TotalSeconds:0} s)…");
                }

                await Task.Delay(100, cancellationToken);
            }

            // A mesh stopped by SIGTERM removes its own record; one that died meanwhile leaves it.
            if (MeshRecord.Read(context.Home) is { } left && left.Pid == pid) File.Delete(file);
            if (asJson) CliJson.Write(context.Output, new { running = true, pid = (int?)pid, stopped = true, staleRecord = false, containersRemoved = 0 });
            else context.Console.MarkupLine($"[green]✓[/] mesh stopped (PID {pid}), containers removed");
            return ExitCodes.Ok;
        });
        return down;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
