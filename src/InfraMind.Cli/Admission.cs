using InfraMind.Registry.Models;
using InfraMind.Storage;

namespace InfraMind.Cli;

/// <summary>The checks a registry opened by `infra` runs before it accepts a publish.</summary>
internal static class Admission
{
    /// <summary>The manifest travels with the statement and validates; every content reference fetches, verified, to the image digest.</summary>
    public static IPublishAdmission ForRegistry(CliContext context) => new AllAdmissions(
        new ManifestAdmission(),
        new ContentAdmission(async (reference, cancellationToken) =>
        {
            var image = await ContentAccess.CreateResolver(context).ResolveAsync(ContentReference.Parse(reference.Uri), null, cancellationToken);
            return image.ManifestDigest.Value;
        }));
}
