using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfraMind.Signing;

/// <summary>
/// Where the image can be fetched. For IPFS the importer settings are part of the signed claim: the same bytes give
/// a different CID under other settings, so a verifier needs them to recompute the CID.
/// </summary>
public sealed record PublishedReference(string Uri, string Kind, int? CidVersion = null, bool? RawLeaves = null, string? Chunker = null, bool? WrapName = null)
{
    public const string IpfsKind = "ipfs";

    internal JsonObject ToJson()
    {
        var o = new JsonObject { ["uri"] = Uri, ["kind"] = Kind };
        if (CidVersion is { } v)
        {
            o["cidVersion"] = v;
        }

        if (RawLeaves is { } r)
        {
            o["rawLeaves"] = r;
        }

        if (Chunker is { } c)
        {
            o["chunker"] = c;
        }

        if (WrapName is { } w)
        {
            o["wrapName"] = w;
        }

        return o;
    }

    internal static PublishedReference FromJson(JsonNode? node, string at)
    {
        if (node is not JsonObject o)
        {
            throw InTotoStatement.Schema(at, "must be an object {uri, kind, ...}");
        }

        var uri = InTotoStatement.RequireString(o, "uri", at + "/uri");
        var kind = InTotoStatement.RequireString(o, "kind", at + "/kind");
        int? cidVersion = null;
        if (o["cidVersion"] is { } cv)
        {
            if (cv is not JsonValue cvv || cvv.GetValueKind() != JsonValueKind.Number || !cvv.TryGetValue<int>(out var cvi) || cvi is < 0 or > 1)
            {
                throw InTotoStatement.Schema(at + "/cidVersion", "must be 0 or 1");
            }

            cidVersion = cvi;
        }

        // A scheme is required, not a parseable URI: local://sha256:… has a colon where System.Uri expects a port.
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        var scheme = colon > 0 ? uri[..colon] : "";
        if (scheme.Length == 0 || !char.IsAsciiLetterLower(scheme[0]) || !scheme.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '+' or '-' or '.'))
        {
            throw InTotoStatement.Schema(at + "/uri", $"'{uri}' is not an absolute URI (ipfs://CID, oci://host/repo@sha256:…, https://…, local://sha256:…, file://…)");
        }

        var reference = new PublishedReference(uri, kind, cidVersion, OptionalBool(o, "rawLeaves", at), OptionalString(o, "chunker", at), OptionalBool(o, "wrapName", at));

        // A CID can only be recomputed from the image with the importer settings that produced it.
        if (kind == IpfsKind || scheme == IpfsKind)
        {
            if (kind != IpfsKind || scheme != IpfsKind)
            {
                throw InTotoStatement.Schema(at + "/kind", $"an ipfs:// reference has kind 'ipfs' (found kind '{kind}' for '{uri}')");
            }

            foreach (var (name, value) in new (string, object?)[] { ("cidVersion", reference.CidVersion), ("rawLeaves", reference.RawLeaves), ("chunker", reference.Chunker), ("wrapName", reference.WrapName) })
            {
                if (value is null)
                {
                    throw InTotoStatement.Schema($"{at}/{name}", "is required for IPFS references: without the importer settings the CID cannot be recomputed");
                }
            }
        }

        return reference;
    }

    private static bool? OptionalBool(JsonObject o, string name, string at)
    {
        var node = o[name];
        if (node is null)
        {
            return null;
        }

        return node.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw InTotoStatement.Schema($"{at}/{name}", "must be true or false"),
        };
    }

    private static string? OptionalString(JsonObject o, string name, string at) =>
        o[name] is null ? null : InTotoStatement.RequireString(o, name, $"{at}/{name}");
}

/// <summary>
/// The claim a deployer signs when publishing: model name and version, the model.yaml digest, the OCI image
/// manifest digest (the in-toto subject), where the image lives and which endpoint serves it.
/// Digests are written <c>sha256:&lt;hex&gt;</c>.
/// </summary>
public sealed record PublishStatement(
    string ModelName,
    string Version,
    string ImageDigest,
    string ManifestDigest,
    IReadOnlyList<PublishedReference> ContentReferences,
    string EndpointId,
    PublicKey Publisher,
    DateTimeOffset PublishedAt)
{
    public const string PredicateTypeV1 = "https://inframind.dev/publish/v1";

    private readonly byte[]? _manifest;

    /// <summary>
    /// The resolved manifest (schemas inlined, as ModelManifest.ToJson writes it): what nodes and the gateway serve
    /// the model with. Signed with the rest, so a node never runs schemas the publisher did not sign.
    /// <para>
    /// Held as its JSON text, and every read parses a tree of the caller's own (which it may change). A registry source
    /// keeps the statement of every version it lists; a tree costs several times its text, and one read out of a signed
    /// statement also kept that statement's whole parsed document alive (its parent, and the document its values are
    /// read from): bench/MeshScale's catalog mode measured ~6.5 KiB a version more.
    /// </para>
    /// </summary>
    public JsonObject? Manifest
    {
        get => _manifest is null ? null : JsonNode.Parse(_manifest)!.AsObject();
        init => _manifest = value is null ? null : TextOf(value);
    }

    /// <summary>The model.yaml bytes as published; their sha256 must be <see cref="ManifestDigest"/>.</summary>
    public byte[]? ManifestSource { get; init; }

    private static byte[] TextOf(JsonObject json)
    {
        var text = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(text)) json.WriteTo(writer);
        return text.WrittenSpan.ToArray();
    }

    /// <summary><c>ep_</c> + first 16 hex of sha256(name): stable across versions, so a new version keeps its endpoint.</summary>
    public static string DeriveEndpointId(string modelName) =>
        "ep_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(modelName)))[..16];

    public static string DigestOf(ReadOnlySpan<byte> bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Builds a statement; <paramref name="manifestBytes"/> are the model.yaml bytes exactly as published.</summary>
    public static PublishStatement Create(
        string modelName,
        string version,
        string imageDigest,
        ReadOnlySpan<byte> manifestBytes,
        IReadOnlyList<PublishedReference> contentReferences,
        PublicKey publisher,
        TimeProvider time,
        JsonObject? manifest = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        var now = time.GetUtcNow();

        // Seconds precision: the text form is what gets signed, and sub-second digits only invite format drift.
        var publishedAt = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, TimeSpan.Zero);
        var statement = new PublishStatement(modelName, version, imageDigest, DigestOf(manifestBytes), contentReferences, DeriveEndpointId(modelName), publisher, publishedAt)
        {
            Manifest = manifest,
            ManifestSource = manifest is null ? null : manifestBytes.ToArray(),
        };
        _ = FromStatement(statement.ToStatement());
        return statement;
    }

    public InTotoStatement ToStatement()
    {
        var refs = new JsonArray();
        foreach (var r in ContentReferences)
        {
            refs.Add(r.ToJson());
        }

        var predicate = new JsonObject
        {
            ["name"] = ModelName,
            ["version"] = Version,
            ["manifestDigest"] = ManifestDigest,
            ["contentReferences"] = refs,
            ["endpointId"] = EndpointId,
            ["publisher"] = new JsonObject
            {
                ["publicKey"] = Publisher.SubjectPublicKeyInfoBase64,
                ["fingerprint"] = Publisher.Fingerprint,
            },
            ["publishedAt"] = PublishedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        };
        if (Manifest is { } manifest) predicate["manifest"] = manifest;
        if (ManifestSource is { } source) predicate["manifestSource"] = Convert.ToBase64String(source);
        var subject = new StatementSubject(ModelName, StripSha256(ImageDigest, "/subject/0/digest/sha256"));
        return new InTotoStatement([subject], PredicateTypeV1, predicate);
    }

    /// <summary>Reads a publish statement out of a generic one; schema violations are IM5017 with a JSON Pointer.</summary>
    public static PublishStatement FromStatement(InTotoStatement statement)
    {
        ArgumentNullException.ThrowIfNull(statement);
        if (statement.PredicateType != PredicateTypeV1)
        {
            throw InTotoStatement.Schema("/predicateType", $"expected '{PredicateTypeV1}', found '{statement.PredicateType}'");
        }

        if (statement.Subjects.Count != 1)
        {
            throw InTotoStatement.Schema("/subject", "a publish statement has exactly one subject: the image manifest digest");
        }

        var p = statement.Predicate;
        var name = InTotoStatement.RequireString(p, "name", "/predicate/name");
        if (!IsValidModelName(name))
        {
            throw InTotoStatement.Schema("/predicate/name", $"'{name}' is not a model name (1-128 of a-z, A-Z, 0-9, '.', '_', '-', starting with a letter or digit)");
        }

        if (statement.Subjects[0].Name != name)
        {
            throw InTotoStatement.Schema("/subject/0/name", $"must equal the model name '{name}'");
        }

        var version = InTotoStatement.RequireString(p, "version", "/predicate/version");
        var manifestDigest = InTotoStatement.RequireString(p, "manifestDigest", "/predicate/manifestDigest");
        _ = StripSha256(manifestDigest, "/predicate/manifestDigest");
        if (p["contentReferences"] is not JsonArray refsArray)
        {
            throw InTotoStatement.Schema("/predicate/contentReferences", "must be an array (it may be empty)");
        }

        var refs = new List<PublishedReference>();
        for (var i = 0; i < refsArray.Count; i++)
        {
            refs.Add(PublishedReference.FromJson(refsArray[i], $"/predicate/contentReferences/{i}"));
        }

        var endpointId = InTotoStatement.RequireString(p, "endpointId", "/predicate/endpointId");
        if (endpointId != DeriveEndpointId(name))
        {
            throw InTotoStatement.Schema("/predicate/endpointId", $"must be '{DeriveEndpointId(name)}' (derived from the model name)");
        }

        if (p["publisher"] is not JsonObject publisherObj)
        {
            throw InTotoStatement.Schema("/predicate/publisher", "must be an object {publicKey, fingerprint}");
        }

        PublicKey publisher;
        try
        {
            publisher = PublicKey.FromBase64(InTotoStatement.RequireString(publisherObj, "publicKey", "/predicate/publisher/publicKey"));
        }
        catch (SigningException ex) when (ex.Code != SigningErrorCodes.StatementSchema)
        {
            throw InTotoStatement.Schema("/predicate/publisher/publicKey", ex.Message.TrimEnd('.'));
        }

        var fingerprint = InTotoStatement.RequireString(publisherObj, "fingerprint", "/predicate/publisher/fingerprint");
        if (fingerprint != publisher.Fingerprint)
        {
            throw InTotoStatement.Schema("/predicate/publisher/fingerprint", $"is '{fingerprint}' but the public key's fingerprint is '{publisher.Fingerprint}'");
        }

        var publishedAtText = InTotoStatement.RequireString(p, "publishedAt", "/predicate/publishedAt");
        if (!DateTimeOffset.TryParseExact(publishedAtText, "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var publishedAt))
        {
            throw InTotoStatement.Schema("/predicate/publishedAt", "must be UTC 'yyyy-MM-ddTHH:mm:ssZ'");
        }

        JsonObject? manifest = null;
        if (p["manifest"] is { } m)
        {
            manifest = m as JsonObject ?? throw InTotoStatement.Schema("/predicate/manifest", "must be the resolved manifest object");
        }

        byte[]? source = null;
        if (p["manifestSource"] is not null)
        {
            try
            {
                source = Convert.FromBase64String(InTotoStatement.RequireString(p, "manifestSource", "/predicate/manifestSource"));
            }
            catch (FormatException)
            {
                throw InTotoStatement.Schema("/predicate/manifestSource", "must be base64 of the model.yaml bytes");
            }

            if (DigestOf(source) != manifestDigest)
            {
                throw InTotoStatement.Schema("/predicate/manifestSource", $"hashes to {DigestOf(source)}, not the manifestDigest {manifestDigest}");
            }
        }

        var imageDigest = "sha256:" + statement.Subjects[0].Sha256;
        return new PublishStatement(name, version, imageDigest, manifestDigest, refs, endpointId, publisher, publishedAt)
        {
            Manifest = manifest,
            ManifestSource = source,
        };
    }

    public static bool IsValidModelName(string name) =>
        name.Length is > 0 and <= 128
        && char.IsAsciiLetterOrDigit(name[0])
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static string StripSha256(string digest, string pointer)
    {
        const string prefix = "sha256:";
        if (!digest.StartsWith(prefix, StringComparison.Ordinal) || !InTotoStatement.IsSha256Hex(digest[prefix.Length..]))
        {
            throw InTotoStatement.Schema(pointer, $"'{digest}' is not a digest of the form sha256:<64 lowercase hex>");
        }

        return digest[prefix.Length..];
    }
}
