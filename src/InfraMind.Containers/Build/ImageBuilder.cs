using Docker.DotNet;
using Docker.DotNet.Models;
using InfraMind.Containers.Run;

namespace InfraMind.Containers.Build;

/// <summary>
/// One image build with the classic builder: the context (honouring <c>.dockerignore</c>) goes to the engine as a tar
/// spooled to disk, each output line is reported, and a failed step becomes IM3002 with the step and the output tail.
/// </summary>
internal static class ImageBuilder
{
    public static async Task<string> BuildAsync(
        DockerClient client,
        string contextDir,
        string tag,
        IReadOnlyDictionary<string, string> labels,
        IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        var fullContext = BuildContext.Validate(contextDir);
        if (string.IsNullOrWhiteSpace(tag))
        {
            throw new ContainerEngineException(ContainerErrorCodes.InvalidBuildContext, "image tag is empty", hint: "give one like 'summarizer-v1:0.4.2'");
        }

        var imageLabels = labels is null ? [] : new Dictionary<string, string>(labels);
        imageLabels[ManagedLabels.Managed] = "true";

        // A temp file, not memory: a context with model weights can be gigabytes.
        var tarPath = Path.Combine(Path.GetTempPath(), $"inframind-context-{Guid.NewGuid():N}.tar");
        await using var tar = new FileStream(tarPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920,
            FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            await BuildContext.WriteTarAsync(fullContext, tar, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerEngineException(ContainerErrorCodes.InvalidBuildContext,
                $"cannot read the build context '{fullContext}': {e.Message}", e,
                "fix the file's permissions, or list it in .dockerignore");
        }

        tar.Position = 0;
        var output = new BuildOutput(progress);
        var parameters = new ImageBuildParameters
        {
            Tags = [tag],
            Dockerfile = BuildContext.DockerfileName,
            Labels = imageLabels,
            // Intermediate containers of failed steps too: nothing of a build may be left behind.
            Remove = true,
            ForceRemove = true,
        };
        try
        {
            await client.Images.BuildImageFromDockerfileAsync(parameters, tar, null, null, output, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw await FailedAsync(client, tag, output, Cleanup.ApiMessage(e), cancellationToken);
        }

        if (output.Error is not null)
        {
            throw await FailedAsync(client, tag, output, output.Error, cancellationToken);
        }

        try
        {
            var image = await client.Images.InspectImageAsync(tag, cancellationToken);
            return image.ID;
        }
        catch (DockerImageNotFoundException)
        {
            throw new ImageBuildFailedException(tag, output.CurrentStep, "the engine reported no error but the image is missing", output.Tail);
        }
    }

    /// <summary>
    /// The failure of a build: when the failing step is a <c>FROM</c> of an image the engine does not have, the engine's
    /// error (no registry reachable, no such repository, a login asked for) is only the cause of that.
    /// </summary>
    private static async Task<ImageBuildFailedException> FailedAsync(
        DockerClient client, string tag, BuildOutput output, string error, CancellationToken cancellationToken)
    {
        if (BuildOutput.FromImage(output.CurrentStep) is { } image && !await HasImageAsync(client, image, cancellationToken))
        {
            return new ImageBuildFailedException(tag, output.CurrentStep, error, output.Tail, missingBaseImage: image);
        }

        return new ImageBuildFailedException(tag, output.CurrentStep, error, output.Tail);
    }

    /// <summary>Whether the engine has <paramref name="image"/>; true when it cannot tell (the build's own error then stands as it is).</summary>
    private static async Task<bool> HasImageAsync(DockerClient client, string image, CancellationToken cancellationToken)
    {
        try
        {
            await client.Images.InspectImageAsync(image, cancellationToken);
            return true;
        }
        catch (DockerImageNotFoundException)
        {
            return false;
        }
        catch (DockerApiException)
        {
            return true;
        }
    }
}
