using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text.RegularExpressions;
using InfraMind.Oci;
using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage;

/// <summary>
/// Where an image's content lives, in one of the forms a user writes: <c>ipfs://CID</c>,
/// <c>oci://host[:port]/repo[:tag][@sha256:…]</c> (also <c>docker://…</c> and plain <c>host/repo:tag</c>),
/// <c>https://…#sha256=HEX</c> (plain http only on loopback), <c>file:///path</c> (OCI layout directory or tar),
/// <c>local</c> / <c>local://sha256:…</c> / <c>local://name:version</c>.
/// <see cref="Parse"/> takes references to pull from (content must be pinned where the scheme cannot name it by
/// itself: https needs <c>#sha256=</c>); <see cref="ParseTarget"/> takes push destinations.
/// </summary>
public abstract partial record ContentReference
{
    public const string ValidForms =
        "ipfs://<cid>, oci://host[:port]/repo[:tag|@sha256:<hex>] (or docker://…, or host/repo:tag), " +
        "https://host/path#sha256=<hex> (http:// only on 127.0.0.1/localhost), file:///path/to/layout-or.tar, " +
        "local or local://sha256:<hex> or local://name:version";

    public const string ValidTargets =
        "local, oci://host[:port]/repo[:tag], https://host/path/ (or http:// on 127.0.0.1), ipfs or ipfs://host:port (the node's RPC API)";

    /// <summary>Resolves on the machine that reads it (<c>file://</c>, <c>local://</c>), not at a remote source.</summary>
    public bool IsHostLocal => this is LocalReference or FileReference;

    /// <summary>Parses a reference to fetch content from. Throws <see cref="StorageException"/> (IM4201) with the valid forms.</summary>
    public static ContentReference Parse(string text) =>
        TryParse(text, forPush: false, out var reference, out var error)
            ? reference
            : throw new StorageException(StorageErrorCodes.InvalidReference, $"{TerminalText.Quote(text, 120)} is not a content reference: {error}. Valid forms: {ValidForms}.");

    public static bool TryParse(string? text, [NotNullWhen(true)] out ContentReference? reference, out string error) =>
        TryParse(text, forPush: false, out reference, out error);

    /// <summary>Parses a push destination: the same forms, but without content digests (the push computes them).</summary>
    public static ContentReference ParseTarget(string text) =>
        TryParse(text, forPush: true, out var reference, out var error)
            ? reference
            : throw new StorageException(StorageErrorCodes.InvalidReference, $"{TerminalText.Quote(text, 120)} is not a push destination: {error}. Valid destinations: {ValidTargets}.");

    private static bool TryParse(string? text, bool forPush, [NotNullWhen(true)] out ContentReference? reference, out string error)
    {
        reference = null;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            error = "it is empty";
            return false;
        }

        int scheme = text.IndexOf("://", StringComparison.Ordinal);
        string prefix = scheme < 0 ? string.Empty : text[..scheme].ToLowerInvariant();
        string rest = scheme < 0 ? text : text[(scheme + 3)..];
        switch (prefix)
        {
            case "" when text.Equals("local", StringComparison.OrdinalIgnoreCase):
                reference = new LocalReference(null, null);
                error = string.Empty;
                return true;
            case "" when text.Equals("ipfs", StringComparison.OrdinalIgnoreCase):
                if (!forPush)
                {
                    error = "'ipfs' alone names no content; write ipfs://<cid>";
                    return false;
                }

                reference = new IpfsReference(null, null);
                error = string.Empty;
                return true;
            case "local":
                return TryParseLocal(rest, out reference, out error);
            case "ipfs":
                return TryParseIpfs(rest, forPush, out reference, out error);
            case "oci" or "docker":
                return OciReference.TryParse(rest, forPush, out reference, out error);
            case "http" or "https":
                return HttpReference.TryParse(text, forPush, out reference, out error);
            case "file":
                return TryParseFile(text, out reference, out error);
            case "":
                if (text.Contains('/', StringComparison.Ordinal))
                {
                    return OciReference.TryParse(text, forPush, out reference, out error);
                }

                // NAME:VERSION is what `infra build` tags and prints: an image of the engine, not yet content with a
                // reference of its own.
                error = ImageNamePattern().IsMatch(text)
                    ? $"it has no scheme: an image of the container engine (as `infra build` tags it) is published by the reference `infra push DIR` prints (local://sha256:…, oci://…, ipfs://…), or as local://NAME:VERSION once pushed to the local store"
                    : "it has no scheme and is not host/repository[:tag]";
                return false;
            default:
                error = $"the scheme '{prefix}://' is not supported";
                return false;
        }
    }

    private static bool TryParseLocal(string rest, out ContentReference? reference, out string error)
    {
        reference = null;
        if (rest.Length == 0)
        {
            reference = new LocalReference(null, null);
            error = string.Empty;
            return true;
        }

        if (rest.StartsWith(Digest.Sha256Prefix, StringComparison.Ordinal) || rest.StartsWith("sha256-", StringComparison.Ordinal))
        {
            if (!Digest.TryParse(rest.Replace("sha256-", Digest.Sha256Prefix, StringComparison.Ordinal), out var digest))
            {
                error = "after local:// comes sha256: and 64 lower-case hex digits (the image manifest digest)";
                return false;
            }

            reference = new LocalReference(digest, null);
            error = string.Empty;
            return true;
        }

        if (!ImageNamePattern().IsMatch(rest))
        {
            error = "after local:// comes sha256:<64 hex digits> or an image name such as summarizer-v1:0.4.2";
            return false;
        }

        reference = new LocalReference(null, rest);
        error = string.Empty;
        return true;
    }

    private static bool TryParseIpfs(string rest, bool forPush, out ContentReference? reference, out string error)
    {
        reference = null;
        string cidText = rest.TrimEnd('/');
        string? path = null;
        int slash = cidText.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            path = cidText[(slash + 1)..];
            cidText = cidText[..slash];
        }

        if (Cid.TryParse(cidText, out var cid))
        {
            if (forPush)
            {
                error = "a CID names existing content; push to 'ipfs' or ipfs://host:port (the node's RPC API) instead";
                return false;
            }

            reference = new IpfsReference(cid, path);
            error = string.Empty;
            return true;
        }

        Uri? api = null;
        if (forPush && path is null && Uri.TryCreate("http://" + cidText, UriKind.Absolute, out api) && cidText.Contains(':', StringComparison.Ordinal))
        {
            reference = new IpfsReference(null, null) { Api = api };
            error = string.Empty;
            return true;
        }

        error = forPush
            ? $"{TerminalText.Quote(cidText, 120)} is neither a CID nor host:port of an IPFS RPC API"
            : $"{TerminalText.Quote(cidText, 120)} is not a CID (CIDv0 'Qm…' or CIDv1 'b…')";
        return false;
    }

    private static bool TryParseFile(string text, out ContentReference? reference, out string error)
    {
        reference = null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || !uri.IsFile || !(uri.Host.Length == 0 || uri.Host == "localhost"))
        {
            error = "write file:///absolute/path (an OCI layout directory or a layout tar on this machine)";
            return false;
        }

        // file://localhost/p is file:///p (RFC 8089); System.Uri reads it as the UNC path \\localhost\p, which on Linux
        // is a relative name in the current directory.
        reference = new FileReference(uri.Host.Length == 0 ? uri.LocalPath : new UriBuilder(uri) { Host = string.Empty }.Uri.LocalPath);
        error = string.Empty;
        return true;
    }

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    internal static partial Regex ImageNamePattern();
}

/// <summary>The local content store: all of it (<c>local</c>), one image by manifest digest, or one by name:version.</summary>
public sealed record LocalReference(Digest? ManifestDigest, string? Name) : ContentReference
{
    public override string ToString() => ManifestDigest is not null ? "local://" + ManifestDigest.Value.Value : Name is not null ? "local://" + Name : "local";
}

/// <summary>An OCI image layout directory or layout tar on this machine.</summary>
internal sealed record FileReference(string Path) : ContentReference
{
    public override string ToString() => new Uri(System.IO.Path.GetFullPath(Path)).AbsoluteUri;
}

/// <summary>
/// IPFS content: a directory CID that wraps <c>image.tar</c> (what <c>ipfs add --wrap-with-directory</c> gives) or a
/// file CID; optionally a path inside it. As a push target, <see cref="Cid"/> is null and <see cref="Api"/> may name
/// the node's RPC API.
/// </summary>
public sealed record IpfsReference(Cid? Cid, string? Path) : ContentReference
{
    public const string WrappedFileName = "image.tar";

    public Uri? Api { get; init; }

    /// <summary>
    /// The <c>ipfs add</c> settings that give this reference's CID as <c>infra push --to ipfs</c> makes it, to record
    /// beside the CID: kubo's defaults for the CID's version, wrapped in a directory (entry <see cref="WrappedFileName"/>)
    /// when a path is named or the root is a dag-pb node. Null when the reference names no CID.
    /// </summary>
    public UnixFsOptions? ImportSettings => Cid is null
        ? null
        : (Cid.Version == 1 ? UnixFsOptions.KuboCidV1 : UnixFsOptions.KuboDefault) with
        {
            WrapName = Path is not null || Cid.Codec == Cid.DagPbCodec ? WrappedFileName : null,
        };

    public override string ToString() =>
        Cid is null ? (Api is null ? "ipfs" : $"ipfs://{Api.Authority}") : $"ipfs://{Cid}" + (Path is null ? string.Empty : "/" + Path);
}

/// <summary>An image in an OCI distribution registry. <see cref="Digest"/> pins the manifest; a tag alone does not.</summary>
public sealed partial record OciReference(string Registry, string Repository, string? Tag, Digest? Digest) : ContentReference
{
    /// <summary>The registry's base URL: http for loopback registries (as Docker treats 127.0.0.0/8 as insecure), https otherwise.</summary>
    public Uri BaseUri => new((HttpReference.IsLoopbackHost(HostOnly(Registry)) ? "http://" : "https://") + Registry + "/");

    /// <summary>What the registry API calls the manifest: the digest when pinned, else the tag.</summary>
    internal string ManifestReference => Digest?.Value ?? Tag ?? "latest";

    internal OciReference WithDigest(Digest digest) => this with { Digest = digest };

    public override string ToString() =>
        "oci://" + Registry + "/" + Repository + (Tag is null ? string.Empty : ":" + Tag) + (Digest is null ? string.Empty : "@" + Digest.Value.Value);

    internal static bool TryParse(string text, bool forPush, out ContentReference? reference, out string error)
    {
        reference = null;
        Digest? digest = null;
        int at = text.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            if (!Oci.Digest.TryParse(text[(at + 1)..], out var d))
            {
                error = $"{TerminalText.Quote(text[(at + 1)..], 120)} after '@' is not sha256:<64 lower-case hex digits>";
                return false;
            }

            if (forPush)
            {
                error = "a push destination names a repository (and tag), not a digest: the push computes the digest";
                return false;
            }

            digest = d;
            text = text[..at];
        }

        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0)
        {
            error = "it needs a registry host and a repository, as in 127.0.0.1:5000/models/summarizer:0.4.2";
            return false;
        }

        string host = text[..slash];
        string path = text[(slash + 1)..];
        if (!host.Contains('.', StringComparison.Ordinal) && !host.Contains(':', StringComparison.Ordinal) && host != "localhost")
        {
            error = $"{TerminalText.Quote(host, 120)} is not a registry host (a host has a '.' or a ':port', or is localhost); InfraMind has no default registry, so write the host";
            return false;
        }

        if (Uri.CheckHostName(HostOnly(host)) == UriHostNameType.Unknown || !PortValid(host))
        {
            error = $"{TerminalText.Quote(host, 120)} is not a valid host[:port]";
            return false;
        }

        string? tag = null;
        int colon = path.LastIndexOf(':');
        if (colon >= 0)
        {
            tag = path[(colon + 1)..];
            path = path[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                error = $"tag {TerminalText.Quote(tag, 120)} is not valid: letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-'";
                return false;
            }
        }

        if (!RepositoryPattern().IsMatch(path))
        {
            error = $"repository {TerminalText.Quote(path, 120)} is not valid: lower-case letters and digits, separated by '.', '_', '__', '-' or '/'";
            return false;
        }

        reference = new OciReference(host.ToLowerInvariant(), path, tag, digest);
        error = string.Empty;
        return true;
    }

    internal static string HostOnly(string hostPort)
    {
        if (hostPort.StartsWith('['))
        {
            int end = hostPort.IndexOf(']', StringComparison.Ordinal);
            return end > 0 ? hostPort[1..end] : hostPort;
        }

        int colon = hostPort.LastIndexOf(':');
        return colon >= 0 ? hostPort[..colon] : hostPort;
    }

    private static bool PortValid(string hostPort)
    {
        int bracket = hostPort.LastIndexOf(']');
        int colon = hostPort.LastIndexOf(':');
        if (colon < 0 || colon < bracket)
        {
            return true;
        }

        return int.TryParse(hostPort[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) && port is > 0 and < 65536;
    }

    /// <summary>Whether <paramref name="name"/> is a repository name of the distribution spec (lower-case path components).</summary>
    internal static bool IsRepositoryName(string name) => RepositoryPattern().IsMatch(name);

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();
}

/// <summary>
/// A layout tar on a static HTTP(S) server. <see cref="Digest"/> (the <c>#sha256=</c> fragment) is the sha256 of the
/// file itself, so that any server, CDN or mirror can serve it without being trusted.
/// </summary>
public sealed record HttpReference(Uri Url, Digest? Digest) : ContentReference
{
    public override string ToString() => Url.GetLeftPart(UriPartial.Query) + (Digest is null ? string.Empty : "#sha256=" + Digest.Value.Hex);

    internal static bool TryParse(string text, bool forPush, out ContentReference? reference, out string error)
    {
        reference = null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            error = "it is not an absolute http(s) URL";
            return false;
        }

        if (uri.Scheme == Uri.UriSchemeHttp && !IsLoopbackHost(uri.Host))
        {
            error = $"plain http:// is only allowed to this machine (127.0.0.1, localhost); use https://{uri.Authority}{uri.PathAndQuery}";
            return false;
        }

        if (uri.UserInfo.Length > 0)
        {
            error = "credentials do not belong in a content reference, which gets published; pass them another way";
            return false;
        }

        Digest? digest = null;
        string fragment = uri.Fragment.TrimStart('#');
        if (fragment.Length > 0)
        {
            Digest d = default;
            if (!fragment.StartsWith("sha256=", StringComparison.Ordinal) || !Oci.Digest.TryParse(Oci.Digest.Sha256Prefix + fragment["sha256=".Length..], out d))
            {
                error = $"the fragment {TerminalText.Quote("#" + fragment, 120)} must be #sha256=<64 lower-case hex digits> (the digest of the file)";
                return false;
            }

            digest = d;
        }

        if (!forPush && digest is null)
        {
            error = "an http(s) reference must end in #sha256=<64 hex digits>, the digest of the file, because the server is not trusted to serve the right bytes";
            return false;
        }

        if (forPush && digest is not null)
        {
            error = "a push destination has no #sha256=; the push computes it";
            return false;
        }

        var builder = new UriBuilder(uri) { Fragment = string.Empty };
        reference = new HttpReference(builder.Uri, digest);
        error = string.Empty;
        return true;
    }

    internal static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
