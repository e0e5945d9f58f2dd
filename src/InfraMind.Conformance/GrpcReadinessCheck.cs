using System.Diagnostics;
using System.Globalization;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;

namespace InfraMind.Conformance;

/// <summary>
/// Readiness of a <c>protocol: grpc</c> model once its port accepts: the port must speak HTTP/2 (an HTTP/1 answer is
/// named: a REST server), and grpc.health.v1 Check (or V2's ServerReady where there is no health service) must say
/// SERVING within what is left of the readiness timeout. Polled every 20 ms; the last status the model reported is
/// reported (a check the budget's end cuts short does not replace it).
/// </summary>
internal static class GrpcReadinessCheck
{
    private static readonly TimeSpan SniffTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Null when SERVING; else the failed step.</summary>
    /// <param name="timeout">The readiness timeout the wait runs under (--timeout, else model.yaml's <c>timeout</c>), as it is named in a failure.</param>
    /// <param name="clock">The readiness step's clock, started with the wait for the port: what is left of the timeout is read from it.</param>
    public static async Task<StepResult?> WaitAsync(
        ModelManifest manifest, RunningContainer container, TimeSpan timeout, Stopwatch clock, CancellationToken exited, CancellationToken cancellationToken)
    {
        var left = timeout - clock.Elapsed;
        var route = ContainerRoute.Of(container);
        var spoken = await ProtocolSniffer.SniffAsync(route, SniffTimeout, cancellationToken);
        if (spoken == PortProtocol.Http1)
        {
            return Failed(Verdict.WrongProtocol,
                $"port {manifest.Port} answered {ProtocolSniffer.Describe(spoken)}, but model.yaml declares protocol: grpc, which needs cleartext HTTP/2 " +
                "(h2c); serve gRPC on the port or declare protocol: rest");
        }

        using var channel = new ModelChannel(route, manifest.Name, manifest.Version.ToString(), ModelAnswer.DefaultBodyLimit);
        var budget = Stopwatch.StartNew();
        var seen = "no answer yet";
        // A check cut short by the end of the budget says nothing new: the last status the model did report stays what
        // is reported (a loaded machine once turned a NotServing model's verdict into "no answer in time").
        var answered = false;
        // At least a moment for the health call itself, however long the port took.
        var limit = left < TimeSpan.FromMilliseconds(500) ? TimeSpan.FromMilliseconds(500) : left;
        while (budget.Elapsed < limit)
        {
            if (exited.IsCancellationRequested) return null;
            try
            {
                var check = await channel.CheckReadyAsync(limit - budget.Elapsed, cancellationToken);
                if (check.Serving) return null;
                if (check.Verdict is { } verdict)
                    return Failed(verdict, $"port {manifest.Port} speaks HTTP/2 but answered {check.Seen}: not an Open Inference Protocol V2 server");
                seen = check.Seen;
                answered = true;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                if (!answered) seen = "no answer to the health check in time";
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                seen = $"the health check's connection failed: {e.Message}";
            }

            await Task.Delay(ReadinessProbe.PollInterval, cancellationToken);
        }

        return Failed(Verdict.NoAnswerOnPort, NotServing(manifest.Port, timeout, seen));

        StepResult Failed(Verdict verdict, string detail) => new(ConformanceSteps.Readiness, CheckStatus.Failed, verdict, detail, clock.Elapsed);
    }

    /// <summary>
    /// A model that accepts on its port but never says SERVING: the readiness timeout it had (not the time measured,
    /// which overruns it by a poll), the last status it reported, and the fix. The wait is `infra test --timeout`'s,
    /// else model.yaml's <c>timeout</c>, which is also the one a node waits.
    /// </summary>
    internal static string NotServing(int port, TimeSpan timeout, string seen) =>
        string.Create(CultureInfo.InvariantCulture, $"port {port} accepts connections but the model did not report SERVING within {timeout.TotalSeconds:0.###} s; last seen: {seen}. ") +
        "Fix: answer grpc.health.v1 Health/Check for service \"\" with SERVING once the model can answer (without a health service: " +
        "inference.GRPCInferenceService/ServerReady with ready=true); if it needs longer to load, raise `timeout:` in model.yaml " +
        "(what nodes wait too; `infra test --timeout` overrides it for one run)";
}
