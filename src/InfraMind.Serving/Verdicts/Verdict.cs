using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace InfraMind.Serving;

/// <summary>
/// Whose doing a failure is, as far as the mesh can tell. A client's mistake is never a verdict: the gateway answers it
/// with a 4xx and its own error code (IM6003, IM6006–IM6009) before any node sees the request.
/// </summary>
public enum Fault
{
    /// <summary>
    /// The model itself (its package, image or server): it fails the same way on any node. Several nodes failing one
    /// version alike quarantine the version, and the nodes keep their standing.
    /// </summary>
    Model,

    /// <summary>
    /// Where it ran: the node, its engine, or the way to it. Costs the node reputation and may suspend it; never
    /// quarantines a model (refused connections, timeouts or a killed container coincide on two nodes under load).
    /// </summary>
    Node,
}

/// <summary>
/// The precise name of one way a model can fail: a step of <c>infra test</c>, a node's pre-flight, a job on a node or
/// an attempt at the gateway. One list for conformance reports, the node's <c>InfraMind-Verdict</c> header, heartbeats,
/// the gateway's problem documents, quarantine and metrics. On the wire (JSON, headers, JUnit) a verdict is its
/// <see cref="WireName"/>; those names are stable: reports, nodes and scripts match on them.
/// </summary>
[JsonConverter(typeof(VerdictJsonConverter))]
public sealed class Verdict
{
    private Verdict(string wireName, Fault fault)
    {
        WireName = wireName;
        Fault = fault;
    }

    /// <summary>The verdict as reports, headers and metrics write it, e.g. <c>output-schema-violation</c>.</summary>
    public string WireName { get; }

    /// <summary>Whose doing it is: decides between quarantining the model and penalising the node.</summary>
    public Fault Fault { get; }

    /// <summary>model.yaml has errors.</summary>
    public static Verdict ManifestInvalid { get; } = new("manifest-invalid", Fault.Model);

    /// <summary>The Dockerfile build failed.</summary>
    public static Verdict BuildFailed { get; } = new("build-failed", Fault.Model);

    /// <summary>The engine could not start the container (resources, engine state): about where it ran.</summary>
    public static Verdict StartFailed { get; } = new("start-failed", Fault.Node);

    /// <summary>
    /// The container exited (its exit code and last log lines in the detail); a node restarts it. Killed containers on a
    /// busy node look alike, so the node's.
    /// </summary>
    public static Verdict ContainerExited { get; } = new("container-exited", Fault.Node);

    /// <summary>The container was killed for exceeding <c>resources.memory</c>: the model needs more than it declares.</summary>
    public static Verdict OomKilled { get; } = new("container-oom-killed", Fault.Model);

    public static Verdict InitFailed { get; } = new("init-failed", Fault.Model);

    public static Verdict WarmupFailed { get; } = new("warmup-failed", Fault.Model);

    /// <summary>The healthcheck hook failed (at pre-flight, or twice in a row while serving).</summary>
    public static Verdict HealthcheckFailed { get; } = new("healthcheck-failed", Fault.Model);

    /// <summary>Nothing accepted on the manifest's port in time.</summary>
    public static Verdict NoAnswerOnPort { get; } = new("no-answer-on-port", Fault.Model);

    /// <summary>The model listens, but on another port than the manifest's.</summary>
    public static Verdict WrongPort { get; } = new("wrong-port", Fault.Model);

    public static Verdict ResponseNotJson { get; } = new("response-not-json", Fault.Model);

    public static Verdict OutputSchemaViolation { get; } = new("output-schema-violation", Fault.Model);

    /// <summary>
    /// The answer is longer than the reader's limit (<see cref="ModelAnswer.DefaultBodyLimit"/> unless set otherwise):
    /// read no further, its connection dropped.
    /// </summary>
    public static Verdict ResponseTooLarge { get; } = new("response-too-large", Fault.Model);

    /// <summary>The model's port speaks another protocol than model.yaml's <c>protocol</c> (HTTP/1.1 for grpc, HTTP/2 for rest): which one is named.</summary>
    public static Verdict WrongProtocol { get; } = new("wrong-protocol", Fault.Model);

    /// <summary>A gRPC model answered UNIMPLEMENTED: it does not serve the Open Inference Protocol V2 (or grpc.health.v1) it must.</summary>
    public static Verdict GrpcUnimplemented { get; } = new("grpc-unimplemented", Fault.Model);

    /// <summary>A gRPC model's answer lacks the <c>json</c> output tensor of InfraMind's convention (docs/protocols.md).</summary>
    public static Verdict JsonTensorMissing { get; } = new("json-tensor-missing", Fault.Model);

    /// <summary>
    /// The model's answer is not a valid message of its protocol: a gRPC answer that is not protobuf, or a REST answer
    /// that is not HTTP/1.1 (a garbage status line, a malformed header or chunk, headers over the client's limit).
    /// </summary>
    public static Verdict MalformedAnswer { get; } = new("malformed-answer", Fault.Model);

    /// <summary>The model tried to start more processes or threads than its pids limit allows (a fork bomb, a thread leak).</summary>
    public static Verdict PidsLimitReached { get; } = new("pids-limit-reached", Fault.Model);

    public static Verdict ServerErrorOnValidInput { get; } = new("server-error-on-valid-input", Fault.Model);

    public static Verdict RejectedValidInput { get; } = new("rejected-valid-input", Fault.Model);

    /// <summary>5xx, a dropped connection or a crash on an input input_schema forbids (it must get a 4xx).</summary>
    public static Verdict ServerErrorOnInvalidInput { get; } = new("server-error-on-invalid-input", Fault.Model);

    public static Verdict AcceptedInvalidInput { get; } = new("accepted-invalid-input", Fault.Model);

    /// <summary>The connection failed on a valid input.</summary>
    public static Verdict ConnectionFailed { get; } = new("connection-failed", Fault.Node);

    /// <summary>No answer within the time limit.</summary>
    public static Verdict RequestTimeout { get; } = new("request-timeout", Fault.Node);

    /// <summary>A node of an older build could not run the model's protocol (gRPC); kept so that its reports still read.</summary>
    public static Verdict UnsupportedProtocol { get; } = new("unsupported-protocol", Fault.Node);

    /// <summary>A node refused a placement: it does not fit the node's free capacity, or its manifest is invalid.</summary>
    public static Verdict Refused { get; } = new("refused", Fault.Node);

    /// <summary>A node could not fetch, verify or build the model's image.</summary>
    public static Verdict ImageUnavailable { get; } = new("image-unavailable", Fault.Node);

    /// <summary>A node was sent a job for a model it has not ready.</summary>
    public static Verdict NotReady { get; } = new("model-not-ready", Fault.Node);

    /// <summary>
    /// A node refused a job because the model's container had as many jobs in flight and waiting as the node takes
    /// (<see cref="JobGate"/>), or the job's time limit passed while it waited: the model never got it. Load, not
    /// misconduct: the gateway re-routes and holds it against neither the node nor the model.
    /// </summary>
    public static Verdict NodeBusy { get; } = new("node-busy", Fault.Node);

    /// <summary>A node refused a job without its mesh token: the gateway and the node were given different tokens.</summary>
    public static Verdict NodeUnauthorized { get; } = new("node-unauthorized", Fault.Node);

    /// <summary>
    /// A node with a key answered without a valid receipt (missing, not signed by its key, or naming another request,
    /// model, input or output than the gateway's): its answer is not taken.
    /// </summary>
    public static Verdict ReceiptInvalid { get; } = new("receipt-invalid", Fault.Node);

    /// <summary>
    /// The node's job API presented a TLS certificate whose key is not the one its registration pinned (IM6046): nothing
    /// was sent to it; the request moves on to another node.
    /// </summary>
    public static Verdict TlsPinMismatch { get; } = new("tls-pin-mismatch", Fault.Node);

    /// <summary>
    /// A spot check of a deterministic model: this node's answer differs from the answer two other nodes agree on.
    /// The node is suspended at once, the receipts of all three kept as the evidence.
    /// </summary>
    public static Verdict AnswerDisagrees { get; } = new("answer-disagrees", Fault.Node);

    /// <summary>
    /// A name this build does not know, from a node of another build: kept apart (and counted as the node's) so that
    /// what a node sends never grows the gateway's state or its metrics' labels.
    /// </summary>
    public static Verdict Unknown { get; } = new("unknown", Fault.Node);

    /// <summary>Every verdict, each once, <see cref="Unknown"/> last.</summary>
    public static IReadOnlyList<Verdict> All { get; } =
    [
        ManifestInvalid, BuildFailed, StartFailed, ContainerExited, OomKilled, InitFailed, WarmupFailed, HealthcheckFailed,
        NoAnswerOnPort, WrongPort, ResponseNotJson, OutputSchemaViolation, ResponseTooLarge, WrongProtocol, GrpcUnimplemented, JsonTensorMissing,
        MalformedAnswer, PidsLimitReached, ServerErrorOnValidInput, RejectedValidInput,
        ServerErrorOnInvalidInput, AcceptedInvalidInput, ConnectionFailed, RequestTimeout, UnsupportedProtocol,
        Refused, ImageUnavailable, NotReady, NodeBusy, NodeUnauthorized, ReceiptInvalid, TlsPinMismatch, AnswerDisagrees, Unknown,
    ];

    private static readonly Dictionary<string, Verdict> ByWireName = All.ToDictionary(v => v.WireName, StringComparer.Ordinal);

    /// <summary>The verdict named <paramref name="wireName"/>; false for a name this build does not know.</summary>
    public static bool TryFromWireName(string? wireName, [NotNullWhen(true)] out Verdict? verdict)
    {
        verdict = null;
        return wireName is not null && ByWireName.TryGetValue(wireName, out verdict);
    }

    /// <summary>The verdict named <paramref name="wireName"/>, or <see cref="Unknown"/> (what a reader does with a foreign name).</summary>
    public static Verdict FromWireName(string? wireName) => TryFromWireName(wireName, out var v) ? v : Unknown;

    public override string ToString() => WireName;
}

/// <summary>Writes a verdict as its wire name; reads a name back (one this build does not know as <see cref="Verdict.Unknown"/>).</summary>
internal sealed class VerdictJsonConverter : JsonConverter<Verdict>
{
    public override Verdict Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String
            ? Verdict.FromWireName(reader.GetString())
            : throw new JsonException($"a verdict is a string such as \"{Verdict.OutputSchemaViolation.WireName}\", not {reader.TokenType}");

    public override void Write(Utf8JsonWriter writer, Verdict value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.WriteStringValue(value.WireName);
    }
}
