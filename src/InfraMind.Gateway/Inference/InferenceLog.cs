using System.Text;
using InfraMind.Serving;
using Microsoft.Extensions.Logging;

namespace InfraMind.Gateway.Inference;

/// <summary>What one inference request came to, filled in as it goes: the version chosen, each attempt, the node that answered.</summary>
internal sealed class InferenceRecord
{
    public string? Version { get; set; }

    public string? Node { get; set; }

    /// <summary>The stable code of a problem answer (IM6xxx), null when answered.</summary>
    public string? Code { get; set; }

    public List<AttemptResult> Attempts { get; } = [];
}

/// <summary>
/// The gateway's request log: one line per inference request (model, version, status, code, node, attempts, verdicts,
/// time) and one per failed attempt (node, verdict). Inputs, answers and the answers quoted in an attempt's detail are
/// the users' data: logged only when <see cref="GatewayOptions.LogPayloads"/> is on, cut at <see cref="MaxPayloadChars"/>.
/// The trace id and ASP.NET Core's request id come with each line from the logger's scopes.
/// </summary>
internal sealed partial class InferenceLog(ILogger logger, bool logPayloads)
{
    public const int MaxPayloadChars = 4096;

    public void Request(string model, InferenceRecord record, int status, TimeSpan elapsed)
    {
        var verdicts = string.Join(",", record.Attempts.Where(a => a.Verdict is not null).Select(a => a.Verdict!.WireName));
        var level = status >= 500 ? LogLevel.Warning : LogLevel.Information;
        Log.Request(logger, level, model, record.Version ?? "-", status, record.Code ?? "-", record.Node ?? "-", record.Attempts.Count, verdicts.Length == 0 ? "-" : verdicts,
            Math.Round(elapsed.TotalMilliseconds, 1));
    }

    public void AttemptFailed(string model, AttemptResult attempt)
    {
        if (logPayloads) Log.AttemptFailedWithDetail(logger, model, attempt.Node, attempt.Verdict!.WireName, attempt.Status ?? 0, attempt.Detail);
        else Log.AttemptFailed(logger, model, attempt.Node, attempt.Verdict!.WireName, attempt.Status ?? 0);
    }

    public void Input(string model, byte[] body)
    {
        if (logPayloads) Log.Input(logger, model, Cut(body));
    }

    public void Answer(string model, byte[] body)
    {
        if (logPayloads) Log.Answer(logger, model, Cut(body));
    }

    private static string Cut(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, MaxPayloadChars * 4));
        return text.Length <= MaxPayloadChars ? text : text[..MaxPayloadChars] + $"… ({body.Length} bytes)";
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6100, EventName = "InferenceRequest",
            Message = "inference {Model}@{Version}: {Status} (code {Code}, node {Node}, {Attempts} attempt(s), verdicts {Verdicts}) in {ElapsedMs} ms")]
        public static partial void Request(ILogger logger, LogLevel level, string model, string version, int status, string code, string node, int attempts, string verdicts, double elapsedMs);

        [LoggerMessage(EventId = 6101, EventName = "AttemptFailed", Level = LogLevel.Warning, Message = "attempt on {Node} for {Model} failed: {Verdict} (status {Status})")]
        public static partial void AttemptFailed(ILogger logger, string model, string node, string verdict, int status);

        [LoggerMessage(EventId = 6102, EventName = "AttemptFailedDetail", Level = LogLevel.Warning, Message = "attempt on {Node} for {Model} failed: {Verdict} (status {Status}): {Detail}")]
        public static partial void AttemptFailedWithDetail(ILogger logger, string model, string node, string verdict, int status, string detail);

        [LoggerMessage(EventId = 6103, EventName = "InferenceInput", Level = LogLevel.Information, Message = "input for {Model}: {Payload}")]
        public static partial void Input(ILogger logger, string model, string payload);

        [LoggerMessage(EventId = 6104, EventName = "InferenceAnswer", Level = LogLevel.Information, Message = "answer of {Model}: {Payload}")]
        public static partial void Answer(ILogger logger, string model, string payload);
    }
}
