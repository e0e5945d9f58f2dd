using InfraMind.Serving.Grpc;

namespace InfraMind.Testing;

/// <summary>tests/packages/grpc-model: a real Python grpcio V2 server, one behaviour switched on by its BEHAVIOR build argument.</summary>
public static class GrpcModel
{
    public static string Source => Path.Combine(TestEngine.RepoRoot, "tests", "packages", "grpc-model");

    /// <param name="behaviour">good, raw, no-json, unimplemented, not-serving, internal, accept-invalid, huge, malformed, slow, no-v2 (neither grpc.health.v1 nor V2); gzip and huge-gzip: good and huge, every answer gzip-compressed.</param>
    public static string Create(string directory, string name, string behaviour = "good")
    {
        TempDirectory.Copy(Source, directory);
        // The protocol's descriptors as InfraMind ships them (`infra init` writes the same file): never a stale copy.
        File.WriteAllText(Path.Combine(directory, ProtocolDescriptors.FileName), ProtocolDescriptors.Json());
        var dockerfile = Path.Combine(directory, "Dockerfile");
        File.WriteAllText(dockerfile, File.ReadAllText(dockerfile).Replace("ARG BEHAVIOR=good", $"ARG BEHAVIOR={behaviour}", StringComparison.Ordinal));
        var manifestPath = Path.Combine(directory, "model.yaml");
        File.WriteAllText(manifestPath, File.ReadAllText(manifestPath).Replace("name: grpc-model", $"name: {name}", StringComparison.Ordinal));
        return directory;
    }
}
