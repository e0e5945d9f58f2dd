namespace InfraMind.Containers.Run;

/// <summary>
/// `infra doctor`'s question, answered the way a run would find out: start a container under the policy and enter it.
/// Any long-lived process will do, so the container runs <c>sleep</c> from an image already in the engine (none is ever
/// pulled); an image without it fails to start and the next is tried.
/// </summary>
internal static class IsolationCheckRun
{
    private const int MostImagesTried = 5;

    public static async Task<IsolationCheck> RunAsync(ContainerEngine engine, IReadOnlyList<string>? images, IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken)
    {
        var candidates = images is { Count: > 0 }
            ? images
            : [.. (await engine.FindImagesAsync(new Dictionary<string, string> { [ManagedLabels.Managed] = "true" }, cancellationToken))
                .OrderByDescending(i => i.Created).Select(i => i.Id)];
        var tried = new List<string>();
        foreach (var image in candidates.Take(MostImagesTried))
        {
            tried.Add(image);
            var spec = new ContainerSpec
            {
                Image = image,
                ContainerPort = 1,
                Command = ["sleep", "60"],
                MemoryBytes = 32L << 20,
                PidsLimit = 8,
                Labels = labels ?? new Dictionary<string, string>(),
            };
            try
            {
                await using var run = await engine.RunAsync(spec, cancellationToken);
                if (!run.Connector.IsOpen) continue;
                return new IsolationCheck(true, true, image, run.Connector.Interfaces,
                    $"entered the network namespace of a container of {Short(image)}: it holds only {string.Join(", ", run.Connector.Interfaces)}");
            }
            catch (IsolationUnsupportedException e)
            {
                return new IsolationCheck(false, true, image, [], e.Reason);
            }
            catch (ContainerEngineException e) when (e.Code == ContainerErrorCodes.ContainerStartFailed || e.Code == ContainerErrorCodes.ImageNotFound)
            {
                // No `sleep` in that image (FROM scratch), or it went away: the next one.
            }
        }

        return new IsolationCheck(false, false, null, [],
            tried.Count == 0
                ? "no image to try it with: InfraMind has built none on this engine yet (run `infra test` once, or name one with --image)"
                : $"none of {string.Join(", ", tried.Select(Short))} could run `sleep` (name an image that can with --image)");
    }

    private static string Short(string image) => image.StartsWith("sha256:", StringComparison.Ordinal) ? image[..19] : image;
}
