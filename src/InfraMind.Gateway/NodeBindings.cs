using System.Text.Json;
using InfraMind.Serving;
using Microsoft.Extensions.Logging;

namespace InfraMind.Gateway;

/// <summary>
/// What the gateway bound to one node id, kept across its restarts: the node's registration, the credential issued
/// to it, the key it is bound to (DER SubjectPublicKeyInfo, base64; null for a node without one), the time of its last
/// signed request accepted (Unix ms; the replay guard) and when it was last seen (Unix ms).
/// </summary>
/// <remarks><paramref name="Standing"/>: the node's reputation and suspensions (null: none kept, as in a file of a gateway before them).</remarks>
internal sealed record NodeBinding(NodeRegistration Registration, string Credential, string? Key, long LastSigned, long LastSeen, KeptStanding? Standing = null);

/// <summary>
/// A node's standing, kept across the gateway's restarts: its reputation as last set and when (Unix ms; it recovers
/// from then), and its suspensions, one per model version it was ever suspended for, at most
/// <see cref="NodeBindings.MaxSuspensionsKept"/>, the latest first. Without them a restart gave a node that had just
/// lost a spot check (an answer two other nodes contradicted) its versions back at once, and its reputation in full.
/// </summary>
/// <remarks>
/// <paramref name="Evidence"/>: the spot checks it lost, oldest first, at most <see cref="MeshState.EvidencePerNode"/>
/// (null: none, as in a file of a gateway before them): the signed receipts behind a suspension for
/// <c>answer-disagrees</c>, which <c>GET /mesh/v1/nodes/{id}/receipts</c> shows after a restart as before it.
/// </remarks>
internal sealed record KeptStanding(double Reputation, long ReputationAt, IReadOnlyList<KeptSuspension>? Suspensions, IReadOnlyList<KeptDisagreement>? Evidence = null);

/// <summary>
/// One version's suspension of a node: <paramref name="Model"/> (name@version), how often it was suspended (the period
/// grows with it), until when (Unix ms; null: not suspended now), the pre-flight generation it had reported, whether it
/// waits out its period (a lost spot check), and the verdict it was suspended for.
/// </summary>
internal sealed record KeptSuspension(string Model, int Count, long? Until, long Generation, bool WaitsOutPeriod, Verdict? Reason);

/// <summary>
/// A spot check a node lost: when (Unix ms), the version (name@version) and the request, and each compared node's
/// receipt as it signed it (null: a node without a key), at most <see cref="MeshState.SpotCheckAnswers"/>.
/// </summary>
internal sealed record KeptDisagreement(long At, string Model, string RequestId, IReadOnlyDictionary<string, string?> Receipts);

/// <summary>
/// What the file holds: its format, the fingerprint of the key the gateway ran with (null: none), and the bindings.
/// A gateway that runs with another key takes none back: every node then registers again, and a node that admits only
/// listed gateway keys checks this one's (IM6044) instead of beating on with a credential another key's reply carried.
/// </summary>
/// <remarks>
/// <paramref name="Forgotten"/>: the standings of keyed nodes the gateway forgot after
/// <see cref="GatewayOptions.ForgetOfflineNodesAfter"/> offline (<see cref="MeshState.ForgottenStandingsKept"/>; null:
/// none, as in a file of a gateway before them).
/// </remarks>
internal sealed record KeptBindings(int Version, string? GatewayKey, IReadOnlyList<NodeBinding>? Nodes, IReadOnlyList<ForgottenStanding>? Forgotten = null);

/// <summary>
/// The standing of a keyed node the gateway forgot (offline for <see cref="GatewayOptions.ForgetOfflineNodesAfter"/>):
/// its key's fingerprint, when it was forgotten (Unix ms) and the standing it had, which the key takes back when it
/// registers again, under any id (<see cref="MeshState.ForgottenStandingsKept"/>).
/// </summary>
internal sealed record ForgottenStanding(string Key, long ForgottenAt, KeptStanding Standing);

/// <summary>
/// The file a gateway keeps its node bindings in (<see cref="GatewayOptions.NodeBindingsFile"/>), so that a restart
/// does not free the ids it bound: without it, whoever registered an id first after a restart would hold it, and the
/// id's own node would be refused (IM6019, or IM6040 with a key) until the claimant had been offline for
/// <see cref="GatewayOptions.ForgetOfflineNodesAfter"/>. JSON, owner-only, written whole and moved into place: a crash
/// leaves the old content or the new, never half. Read once, at the start, bounded by what the gateway admits
/// (<see cref="GatewayOptions.MaxNodes"/> registrations of at most <see cref="NodeApi.MaxRegistrationBytes"/>); a file
/// that breaks a rule a registration must keep is refused whole (IM6052), not half believed.
/// </summary>
internal static class NodeBindings
{
    /// <summary>The format's version; another is refused.</summary>
    public const int Version = 1;

    /// <summary>The most suspensions kept per node: the latest, when it had more (one per version it was suspended for).</summary>
    public const int MaxSuspensionsKept = 64;

    /// <summary>The longest model key (name@version) a kept suspension may name: a name and a version at their bounds fit.</summary>
    private const int MaxModelKeyLength = 512;

    /// <summary>What one kept disagreement may take in the file: its receipts with their nodes' ids, its version, request id and time.</summary>
    private const long BytesPerDisagreement = (MeshState.SpotCheckAnswers * (JobReceipts.MaxEncodedLength + RegistrationRules.MaxNodeIdLength + 16L))
                                              + MaxModelKeyLength + JobReceipts.MaxRequestIdLength + 256;

    /// <summary>What one binding may take in the file beyond its registration: credential, key, times, names, its suspensions, its evidence.</summary>
    private const long BytesPerBindingBeyondRegistration = (4 * 1024) + (MaxSuspensionsKept * (MaxModelKeyLength + 256L)) + (MeshState.EvidencePerNode * BytesPerDisagreement);

    /// <summary>
    /// The most bytes a file of at most <paramref name="maxNodes"/> bindings, and as many forgotten keys' standings,
    /// may hold.
    /// </summary>
    public static long MaxBytes(int maxNodes) => ((maxNodes + 1L) * (NodeApi.MaxRegistrationBytes + BytesPerBindingBeyondRegistration)) + (maxNodes * BytesPerBindingBeyondRegistration);

    /// <summary>
    /// The bindings kept in <paramref name="path"/> (none when there is no file). At most <paramref name="maxNodes"/>
    /// are returned, the most recently seen first kept: a gateway started with a lower --max-nodes than it ran with.
    /// </summary>
    public static KeptBindings Load(string path, int maxNodes)
    {
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var max = MaxBytes(maxNodes);
            if (stream.Length > max) throw Invalid(path, $"it holds {stream.Length} bytes, more than the {max} that {maxNodes} nodes' bindings can take " +
                                                         "(written by a gateway with a higher --max-nodes? start with that)");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new KeptBindings(Version, null, []);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid(path, e.Message, e);
        }

        KeptBindings? file;
        try
        {
            file = JsonSerializer.Deserialize<KeptBindings>(bytes, MeshJson.Options);
        }
        catch (JsonException e)
        {
            throw Invalid(path, $"it is not a bindings document: {e.Message}", e);
        }

        if (file is null || file.Version != Version || file.Nodes is null)
            throw Invalid(path, file is null || file.Nodes is null ? "it holds no bindings list" : $"it is format {file.Version}; this gateway reads {Version}");
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (b, i) in file.Nodes.Select((b, i) => (b, i)))
        {
            var at = $"binding {i + 1}";
            if (b?.Registration is null || b.Credential is null) throw Invalid(path, $"{at} has no registration or no credential");
            var problems = RegistrationRules.Check(b.Registration);
            if (problems.Count > 0) throw Invalid(path, $"{at} (node '{b.Registration.NodeId}'): {string.Join("; ", problems)}");
            if (!ids.Add(b.Registration.NodeId)) throw Invalid(path, $"{at}: node '{b.Registration.NodeId}' is bound twice");
            if (!MeshToken.IsProposable(b.Credential)) throw Invalid(path, $"{at} (node '{b.Registration.NodeId}'): its credential is not one a gateway issues");
            if (b.Key is not null)
            {
                string fingerprint;
                try
                {
                    fingerprint = InfraMind.Signing.PublicKey.FromBase64(b.Key).Fingerprint;
                }
                catch (InfraMind.Signing.SigningException e)
                {
                    throw Invalid(path, $"{at} (node '{b.Registration.NodeId}'): its key: {e.Message}", e);
                }

                if (!keys.Add(fingerprint)) throw Invalid(path, $"{at} (node '{b.Registration.NodeId}'): key {fingerprint} is bound to another node too; a key holds one id");
            }

            if (b.Standing is { } standing && CheckStanding(standing) is { } wrong) throw Invalid(path, $"{at} (node '{b.Registration.NodeId}'): its standing: {wrong}");
        }

        foreach (var (f, i) in (file.Forgotten ?? []).Select((f, i) => (f, i)))
        {
            var at = $"forgotten key {i + 1}";
            if (f?.Key is not { } key || !InfraMind.Serving.Tls.MeshTls.IsFingerprint(key)) throw Invalid(path, $"{at} names no key fingerprint (sha256: and 64 lowercase hex digits)");
            if (keys.Contains(key)) throw Invalid(path, $"{at}: key {key} is bound to a node too, or listed twice; a forgotten key is bound to none");
            keys.Add(key);
            if (f.ForgottenAt < 0) throw Invalid(path, $"{at} ({key}): its time is before 1970");
            if (f.Standing is null) throw Invalid(path, $"{at} ({key}): it has no standing");
            if (CheckStanding(f.Standing) is { } wrong) throw Invalid(path, $"{at} ({key}): its standing: {wrong}");
        }

        // Labels left out read as none, as the gateway takes a registration without them (NodeApi).
        return file with
        {
            Nodes = [.. file.Nodes.OrderByDescending(b => b.LastSeen).Take(maxNodes)
                .Select(b => b with { Registration = b.Registration with { Labels = b.Registration.Labels ?? new Dictionary<string, string>() } })],
            Forgotten = [.. (file.Forgotten ?? []).OrderByDescending(f => f.ForgottenAt).Take(maxNodes)],
        };
    }

    /// <summary>What is wrong with a kept standing, or null: a reputation in (0, 1], times not before 1970, at most <see cref="MaxSuspensionsKept"/> suspensions of distinct versions.</summary>
    private static string? CheckStanding(KeptStanding standing)
    {
        if (!double.IsFinite(standing.Reputation) || standing.Reputation is <= 0 or > 1) return $"reputation {standing.Reputation} is not in (0, 1]";
        if (standing.ReputationAt < 0) return "its reputation's time is before 1970";
        var suspensions = standing.Suspensions ?? [];
        if (suspensions.Count > MaxSuspensionsKept) return $"it lists {suspensions.Count} suspensions; at most {MaxSuspensionsKept} are kept";
        var models = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (s, i) in suspensions.Select((s, i) => (s, i)))
        {
            var at = $"suspension {i + 1}";
            if (s?.Model is not { } model || !IsModelKey(model)) return $"{at} names no model version (name@version, at most {MaxModelKeyLength} characters)";
            if (!models.Add(model)) return $"{at}: {TerminalText.Escape(model)} is listed twice";
            if (s.Count < 1) return $"{at} ({TerminalText.Escape(model)}): it was suspended {s.Count} times";
            if (s.Until < 0 || s.Generation < 0) return $"{at} ({TerminalText.Escape(model)}): a time or generation is negative";
        }

        var evidence = standing.Evidence ?? [];
        if (evidence.Count > MeshState.EvidencePerNode) return $"it lists {evidence.Count} lost spot checks; at most {MeshState.EvidencePerNode} are kept";
        foreach (var (d, i) in evidence.Select((d, i) => (d, i)))
        {
            var at = $"lost spot check {i + 1}";
            if (d is null || !IsModelKey(d.Model)) return $"{at} names no model version (name@version, at most {MaxModelKeyLength} characters)";
            if (d.At < 0) return $"{at} ({TerminalText.Escape(d.Model)}): its time is before 1970";
            if (d.RequestId is not { Length: > 0 and <= JobReceipts.MaxRequestIdLength })
                return $"{at} ({TerminalText.Escape(d.Model)}): its request id is empty or longer than {JobReceipts.MaxRequestIdLength} characters";
            if (d.Receipts is not { } receipts) return $"{at} ({TerminalText.Escape(d.Model)}): it has no list of receipts";
            if (receipts.Count > MeshState.SpotCheckAnswers)
                return $"{at} ({TerminalText.Escape(d.Model)}): it holds {receipts.Count} answers' receipts; a spot check compares at most {MeshState.SpotCheckAnswers}";
            foreach (var (node, receipt) in receipts)
            {
                if (!RegistrationRules.IsNodeId(node)) return $"{at} ({TerminalText.Escape(d.Model)}): '{TerminalText.Escape(node)}' is not a node id";
                if (receipt?.Length > JobReceipts.MaxEncodedLength)
                    return $"{at} ({TerminalText.Escape(d.Model)}): node '{node}''s receipt is {receipt.Length} characters, more than a receipt's {JobReceipts.MaxEncodedLength}";
            }
        }

        return null;
    }

    /// <summary>A model key as the gateway names a version: name@version, both non-empty, at most <see cref="MaxModelKeyLength"/> characters.</summary>
    private static bool IsModelKey(string? model) =>
        model is { Length: > 2 and <= MaxModelKeyLength } && model.IndexOf('@', StringComparison.Ordinal) > 0 && model[^1] != '@';

    /// <summary>Writes <paramref name="kept"/> to <paramref name="path"/>: owner-only, whole or not at all.</summary>
    public static void Save(string path, KeptBindings kept) => AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(kept, MeshJson.Options));

    private static InfraMindException Invalid(string path, string why, Exception? inner = null) =>
        new(MeshErrorCodes.NodeBindingsInvalid, $"the gateway's node bindings {path} cannot be read: {why}", innerException: inner);
}

/// <summary>
/// Writes the gateway's node bindings to <see cref="GatewayOptions.NodeBindingsFile"/>: within
/// <see cref="GatewayOptions.NodeBindingsWriteDelay"/> of a change to what is bound, every
/// <see cref="GatewayOptions.NodeBindingsRefresh"/> for the nodes' times, and once more when the gateway stops. A write
/// that fails (a full disk) is logged and tried again at the next tick; serving goes on.
/// </summary>
internal sealed class NodeBindingsWriter(string file, MeshState mesh, GatewayOptions options, TimeProvider time, ILogger log)
{
    private long _written = -1;
    private DateTimeOffset _writtenAt = DateTimeOffset.MinValue;
    private bool _failing;

    public async Task RunAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.NodeBindingsWriteDelay, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                if (mesh.BindingChanges != _written || time.GetUtcNow() - _writtenAt >= options.NodeBindingsRefresh) Write();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>Writes what is bound now; false when the write failed (logged).</summary>
    public bool Write()
    {
        var (changes, kept) = mesh.Bindings();
        try
        {
            NodeBindings.Save(file, kept);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Once per run of failures, not every second: the log says when it failed and when it works again.
            if (!_failing) log.LogError("the node bindings cannot be written to {File}: {Reason}; a restart now would free their ids. Trying again", file, e.Message);
            _failing = true;
            return false;
        }

        if (_failing) log.LogInformation("the node bindings are written to {File} again", file);
        _failing = false;
        _written = changes;
        _writtenAt = time.GetUtcNow();
        return true;
    }
}
