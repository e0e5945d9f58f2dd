using InfraMind.Conformance;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using Microsoft.AspNetCore.Http;

namespace InfraMind.Node;

/// <summary>
/// A job for a <c>protocol: grpc</c> model: the node's job API stays HTTP/JSON towards the gateway (one contract for
/// both protocols, docs/protocols.md), and the node speaks the Open Inference Protocol V2 to the container. The JSON
/// body goes in as the <c>json</c> tensor; the answer comes back as JSON with the gRPC status's HTTP equivalent, and
/// a protocol failure (no <c>json</c> tensor, UNIMPLEMENTED, a malformed message) as this node's verdict.
/// </summary>
internal static class GrpcJobs
{
    /// <param name="channels">The node's channels (one per container, so its HTTP/2 connections are reused across jobs; released with the node).</param>
    public static async Task ForwardAsync(
        HttpContext context, RunningContainer container, ModelManifest manifest, byte[] body, TimeSpan timeout, ModelChannels channels, string nodeId,
        Func<byte[], string?> receipt, CancellationToken limit, CancellationToken cancellationToken)
    {
        var channel = channels.Of(ContainerRoute.Of(container), manifest.Name, manifest.Version.ToString());
        ModelAnswer answer;
        try
        {
            answer = await channel.InferAsync(body, timeout, limit);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !context.Response.HasStarted)
        {
            await NodeAgent.FailAsync(context, StatusCodes.Status504GatewayTimeout, AnswerJudge.NoAnswerWithin(timeout));
            return;
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !context.Response.HasStarted)
        {
            await NodeAgent.FailAsync(context, StatusCodes.Status502BadGateway, AnswerJudge.ConnectionFailed(validInput: true, $"the model's container did not answer: {NetworkFailure.Describe(e)}"));
            return;
        }

        if (answer.ProtocolFailure is { } broken)
        {
            await NodeAgent.FailAsync(context, StatusCodes.Status502BadGateway, broken);
            return;
        }

        if (answer.Body is not { } bytes)
        {
            await NodeAgent.FailAsync(context, StatusCodes.Status502BadGateway, Verdict.ResponseTooLarge,
                $"the model's answer is larger than {channel.MaxAnswerBytes} bytes, node {nodeId}'s limit; it was read no further");
            return;
        }

        context.Response.StatusCode = answer.StatusCode;
        if (receipt(bytes) is { } signed) context.Response.Headers[MeshHeaders.Receipt] = signed;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, limit);
    }
}
