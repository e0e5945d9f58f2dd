using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>A file that is the content of a CID (or of an entry under a wrapping directory's CID).</summary>
/// <param name="Path">The file on disk; its bytes must import to the CID it is found under.</param>
/// <param name="Cid">The CID of the file DAG itself, sent as the ETag.</param>
internal sealed record IpfsBlob(string Path, Cid Cid);

/// <summary>Where the content for a CID lives locally (the local content store, or a dictionary in tests).</summary>
internal interface IBlobLookup
{
    /// <summary>
    /// The file for <paramref name="root"/> when <paramref name="name"/> is null (a file CID), or for the entry
    /// <paramref name="name"/> of the directory <paramref name="root"/>; null when this store does not have it.
    /// </summary>
    ValueTask<IpfsBlob?> FindAsync(Cid root, string? name, CancellationToken cancellationToken);
}

/// <summary>
/// An <see cref="IBlobLookup"/> over files registered in memory. <see cref="AddFileAsync"/> computes the CIDs, so what it
/// serves always verifies.
/// </summary>
internal sealed class InMemoryBlobLookup : IBlobLookup
{
    private readonly ConcurrentDictionary<(Cid Root, string? Name), IpfsBlob> _entries = new();

    /// <summary>Registers <paramref name="path"/> under its file CID and, when wrapped, under (directory CID, entry name).</summary>
    public async Task<UnixFsResult> AddFileAsync(string path, UnixFsOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var full = System.IO.Path.GetFullPath(path);
        var file = File.OpenRead(full);
        UnixFsResult result;
        await using (file.ConfigureAwait(false))
        {
            result = await UnixFsImporter.ComputeAsync(file, options, cancellationToken).ConfigureAwait(false);
        }

        Add(result.File, null, new IpfsBlob(full, result.File));
        if (result.Directory is { } directory)
        {
            Add(directory, options.WrapName, new IpfsBlob(full, result.File));
        }

        return result;
    }

    /// <summary>Registers a file as it is, unchecked (tests use it to serve wrong content).</summary>
    public void Add(Cid root, string? name, IpfsBlob blob) => _entries[(root, name)] = blob;

    public ValueTask<IpfsBlob?> FindAsync(Cid root, string? name, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_entries.TryGetValue((root, name), out var blob) ? blob : null);
}

/// <summary>
/// A read-only IPFS path gateway over local files, the well-behaved gateway the tests fetch from: <c>GET|HEAD /ipfs/{cid}</c> and <c>/ipfs/{cid}/{name}</c>, with ranges,
/// strong ETags and immutable caching, as other IPFS clients expect from a gateway.
/// </summary>
internal static class IpfsGatewayEndpoints
{
    public static RouteGroupBuilder Map(IEndpointRouteBuilder app, IBlobLookup lookup)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(lookup);
        var group = app.MapGroup("/ipfs");
        group.MapMethods("/{cid}", ["GET", "HEAD"], (string cid, HttpContext http, CancellationToken ct) => ServeAsync(lookup, cid, null, http, ct));
        group.MapMethods("/{cid}/{name}", ["GET", "HEAD"], (string cid, string name, HttpContext http, CancellationToken ct) => ServeAsync(lookup, cid, name, http, ct));
        return group;
    }

    private static async Task<IResult> ServeAsync(IBlobLookup lookup, string text, string? name, HttpContext http, CancellationToken cancellationToken)
    {
        if (!Cid.TryParse(text, out var cid))
        {
            return Results.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: $"{IpfsErrorCodes.InvalidCid}: '{text}' is not a CID",
                detail: "Use a CIDv0 (Qm…) or a CIDv1 (b… base32, z… base58btc) as printed by `ipfs add` or `infra cid`.");
        }

        var blob = await lookup.FindAsync(cid, name, cancellationToken).ConfigureAwait(false);
        if (blob is null || !File.Exists(blob.Path))
        {
            return Results.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: $"{IpfsErrorCodes.HttpError}: /ipfs/{cid}{(name is null ? "" : "/" + name)} is not in this store",
                detail: "Push the content to this store first, or fetch it from a gateway that has it.");
        }

        // The path is content-addressed: the answer never changes, so clients and proxies may keep it for good.
        http.Response.Headers.CacheControl = "public, max-age=29030400, immutable";
        http.Response.Headers["X-Ipfs-Path"] = $"/ipfs/{cid}{(name is null ? "" : "/" + name)}";
        http.Response.Headers["X-Ipfs-Roots"] = cid.ToString();
        return Results.File(
            blob.Path,
            "application/octet-stream",
            fileDownloadName: null,
            entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{blob.Cid}\""),
            enableRangeProcessing: true);
    }
}
