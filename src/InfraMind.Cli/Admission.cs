using System.Text.Json;
using InfraMind.Conformance;
using InfraMind.Registry;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using InfraMind.Storage;

namespace InfraMind.Cli;

/// <summary>The checks a registry opened by `infra` runs before it accepts a publish, and the one image-binding rule `publish` shares with them.</summary>
internal static class Admission
{
    /// <summary>
    /// After ownership and immutability (decided by the registry first): the manifest travels with the statement and is
    /// exactly the one its model.yaml produces (no I/O); then the references are screened against
    /// <paramref name="policy"/> (count, kind, content addressing: no I/O), and only then each is fetched into a
    /// throwaway store under the policy and must give the published image, built from the published manifest.
    /// </summary>
    /// <param name="keepBytes">
    /// What an accepted publish's image may bring the home's store to: it is kept (for nodes sharing that store) only
    /// while the store's blobs with it stay within this many bytes; beyond, the entry is logged all the same and the
    /// image not kept (nodes fetch it from its references). Null: always kept (a registry of this machine's own user).
    /// </param>
    public static IPublishAdmission ForRegistry(CliContext context, FetchPolicy policy, long? keepBytes = null) => new AllAdmissions(
        new ManifestAdmission(),
        new ContentAdmission(new StoreFetcher(context, policy, keepBytes), policy.MaxReferences, ImageIdentity.ManifestDigestLabel));

    /// <summary>
    /// The image's own record of the manifest it was built from (<c>org.inframind.manifest-digest</c>, written by
    /// `infra build`), when it has one; a publish of that image under another manifest is refused (IM5147).
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>> LabelsAsync(ImageArchive image, CancellationToken cancellationToken)
    {
        await using var config = image.OpenConfig();
        try
        {
            using var document = await JsonDocument.ParseAsync(config, cancellationToken: cancellationToken);
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (document.RootElement.ValueKind == JsonValueKind.Object &&
                document.RootElement.TryGetProperty("config", out var c) && c.ValueKind == JsonValueKind.Object &&
                c.TryGetProperty("Labels", out var l) && l.ValueKind == JsonValueKind.Object)
            {
                foreach (var label in l.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String))
                    labels[label.Name] = label.Value.GetString()!;
            }

            return labels;
        }
        catch (JsonException e)
        {
            throw new InfraMindException(Oci.OciErrorCodes.InvalidLayout, $"the config of image {image.ManifestDigest} is not JSON: {e.Message}");
        }
    }

    /// <summary>
    /// IM5147 when <paramref name="labels"/> say the image (<paramref name="image"/>, as the message names it) was built
    /// from another manifest than <paramref name="manifestDigest"/>; <paramref name="hint"/> in place of the code's own.
    /// </summary>
    public static void CheckBinding(string image, IReadOnlyDictionary<string, string> labels, string manifestDigest, string? hint = null)
    {
        if (labels.TryGetValue(ImageIdentity.ManifestDigestLabel, out var built) && built != manifestDigest)
        {
            throw new InfraMindException(RegistryErrorCodes.ImageBoundToOtherManifest,
                $"image {image} was built from manifest {built} ({ImageIdentity.ManifestDigestLabel}), not from this model.yaml ({manifestDigest})",
                hint ?? RegistryErrorCodes.ImageBoundToOtherManifest.DefaultHint);
        }
    }

    /// <summary>The registry's fetcher: screens references against the policy, fetches into a scratch store of the home's store.</summary>
    private sealed class StoreFetcher(CliContext context, FetchPolicy policy, long? keepBytes) : IContentFetcher
    {
        public AdmissionResult? Screen(PublishedReference reference)
        {
            ContentReference parsed;
            try
            {
                parsed = ContentReference.Parse(reference.Uri);
            }
            catch (InfraMindException e)
            {
                return AdmissionResult.Reject(RegistryErrorCodes.ReferenceNotAccepted, e.Message);
            }

            // Decided on the reference's text alone: the answer for file:///etc/shadow is the answer for file:///nonexistent.
            return parsed switch
            {
                { IsHostLocal: true } when !policy.HostLocalReferences =>
                    AdmissionResult.Reject(RegistryErrorCodes.ReferenceNotAccepted, ContentResolver.HostLocalRefused(parsed).Message),
                OciReference { Digest: null } => AdmissionResult.Reject(RegistryErrorCodes.ReferenceNotAccepted,
                    $"{reference.Uri} names a tag, which its registry may move; publish it pinned to its content: oci://HOST/REPO@sha256:… (`infra push` prints it)"),
                HttpReference { Digest: null } => AdmissionResult.Reject(RegistryErrorCodes.ReferenceNotAccepted,
                    $"{reference.Uri} has no #sha256= of the file, so it cannot be verified"),
                IpfsReference { Cid: null } => AdmissionResult.Reject(RegistryErrorCodes.ReferenceNotAccepted, $"{reference.Uri} names no CID"),
                _ => null,
            };
        }

        public IContentFetch Begin() => new Fetch(context, policy, keepBytes);
    }

    /// <summary>One publish's fetches, into a scratch store; kept (moved into the home's store, nameless) only on <see cref="KeepAsync"/>.</summary>
    private sealed class Fetch : IContentFetch
    {
        /// <summary>One keep at a time in this process, so two publishes cannot both fit the budget that has room for one.</summary>
        private static readonly SemaphoreSlim Keeping = new(1, 1);

        private readonly long? _keepBytes;
        private readonly LocalContentStore _home;
        private readonly ScratchStore _scratch;
        private readonly ContentResolver _resolver;
        private readonly Dictionary<string, ImageArchive> _fetched = new(StringComparer.Ordinal);

        public Fetch(CliContext context, FetchPolicy policy, long? keepBytes)
        {
            _keepBytes = keepBytes;
            _home = new LocalContentStore(context.Home.Store);
            _scratch = _home.CreateScratch();
            _resolver = ContentAccess.ForPublishers(context, policy, _scratch.Store);
        }

        public async Task<FetchedImage> FetchAsync(PublishedReference reference, CancellationToken cancellationToken)
        {
            var parsed = ContentReference.Parse(reference.Uri);
            ImageArchive image;
            if (parsed is LocalReference local)
            {
                // Screened already: only a registry serving this machine's own user gets here. local:// names this home's store.
                image = await _home.GetAsync(local, cancellationToken);
            }
            else
            {
                image = await _resolver.ResolveAsync(parsed, null, cancellationToken);
                _fetched[image.ManifestDigest.Value] = image;
            }

            return new FetchedImage(image.ManifestDigest.Value, await LabelsAsync(image, cancellationToken));
        }

        public async Task KeepAsync(CancellationToken cancellationToken)
        {
            await Keeping.WaitAsync(cancellationToken);
            try
            {
                foreach (var image in _fetched.Values)
                {
                    if (await _home.FindAsync(image.ManifestDigest, cancellationToken) is not null) continue;
                    if (_keepBytes is { } budget && _home.BlobBytes() + _home.MissingBytes(image) > budget) continue;
                    await _home.AdoptAsync(image, cancellationToken);
                }
            }
            finally
            {
                Keeping.Release();
            }
        }

        public ValueTask DisposeAsync()
        {
            _scratch.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
