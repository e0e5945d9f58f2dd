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
            throw new ContainerEngineException(ContainerErrorCodes.InvalidBuildContext, "image tag is empty: give one like 'summarizer-v1:0.4.2'.");
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
                $"cannot read the build context '{fullContext}': {e.Message}. Fix the file's permissions or list it in .dockerignore.", e);
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
            throw new ImageBuildFailedException(tag, output.CurrentStep, Cleanup.ApiMessage(e), output.Tail);
        }

        if (output.Error is not null)
        {
            throw new ImageBuildFailedException(tag, output.CurrentStep, output.Error, output.Tail);
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
}
