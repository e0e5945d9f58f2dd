using System.Diagnostics;
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
    public static async Task<StepResult?> WaitAsync(
        ModelManifest manifest, RunningContainer container, TimeSpan left, Stopwatch clock, CancellationToken exited, CancellationToken cancellationToken)
    {
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

        return Failed(Verdict.NoAnswerOnPort,
            $"port {manifest.Port} accepts connections but the model did not report SERVING within {(clock.Elapsed).TotalSeconds:0.###} s; last seen: {seen}");

        StepResult Failed(Verdict verdict, string detail) => new(ConformanceSteps.Readiness, CheckStatus.Failed, verdict, detail, clock.Elapsed);
    }
}
