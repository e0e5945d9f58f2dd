using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using InfraMind.Serving.Grpc;

namespace InfraMind.Serving.Tests.Grpc;

/// <summary>One <see cref="ModelChannel"/> per connector, and the descriptors a package loads.</summary>
public sealed class ModelChannelsTests
{
    [Fact]
    public async Task A_connector_keeps_its_channel_another_gets_its_own_and_dispose_closes_them_all()
    {
        var channels = new ModelChannels(4096);
        var a = new Nowhere();
        var b = new Nowhere();
        var first = channels.Of(a, "m", "1.0.0");
        Assert.Same(first, channels.Of(a, "other", "2.0.0"));
        var second = channels.Of(b, "m", "1.0.0");
        Assert.NotSame(first, second);
        Assert.Equal((4096L, 4096L), (first.MaxAnswerBytes, second.MaxAnswerBytes));
        Assert.Throws<ArgumentNullException>(() => channels.Of(null!, "m", "1.0.0"));

        channels.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => first.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(5), CancellationToken.None));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => second.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(5), CancellationToken.None));
        // Emptied: a connector asked again gets a new channel.
        var again = channels.Of(a, "m", "1.0.0");
        Assert.NotSame(first, again);
        again.Dispose();
    }

    [Fact]
    public void The_descriptors_are_the_V2_and_health_protos_as_an_indented_FileDescriptorSet_in_JSON()
    {
        var json = ProtocolDescriptors.Json();
        Assert.EndsWith("}\n", json, StringComparison.Ordinal);
        Assert.Contains("\n  \"file\": [", json, StringComparison.Ordinal);
        var set = JsonParser.Default.Parse<FileDescriptorSet>(json);
        Assert.Equal(["grpc_predict_v2.proto", "health.proto"], set.File.Select(f => Path.GetFileName(f.Name)));
        Assert.Equal(["inference", "grpc.health.v1"], set.File.Select(f => f.Package));
        using var document = JsonDocument.Parse(json);
        Assert.Equal(2, document.RootElement.GetProperty("file").GetArrayLength());
    }

    private sealed class Nowhere : IModelConnector
    {
        public ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken) => throw new IOException("nowhere");
    }
}
