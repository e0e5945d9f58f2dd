using System.Diagnostics;
using InfraMind.Serving.Telemetry;
using OpenTelemetry.Exporter;

namespace InfraMind.Serving.Tests;

public sealed class MeshTracingTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] set) => name => set.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Without_an_endpoint_nothing_is_started()
    {
        Assert.Null(MeshTracing.ExportSettings.From(Env()));
        Assert.Null(MeshTracing.Start("x", Env((MeshTracing.ServiceNameVariable, "named"), (MeshTracing.ProtocolVariable, "grpc"))));
    }

    [Fact]
    public void The_general_endpoint_is_a_base_for_http_and_the_signal_endpoint_is_used_as_it_is()
    {
        var general = MeshTracing.ExportSettings.From(Env((MeshTracing.EndpointVariable, "http://127.0.0.1:4318/")))!;
        Assert.Equal(new Uri("http://127.0.0.1:4318/v1/traces"), general.Endpoint);
        Assert.Equal(OtlpExportProtocol.HttpProtobuf, general.Protocol);
        var grpc = MeshTracing.ExportSettings.From(Env((MeshTracing.EndpointVariable, "http://127.0.0.1:4317"), (MeshTracing.ProtocolVariable, "grpc")))!;
        Assert.Equal(new Uri("http://127.0.0.1:4317"), grpc.Endpoint);
        Assert.Equal(OtlpExportProtocol.Grpc, grpc.Protocol);
        var traces = MeshTracing.ExportSettings.From(Env((MeshTracing.EndpointVariable, "http://a:1"), (MeshTracing.TracesEndpointVariable, "https://b:2/custom")))!;
        Assert.Equal(new Uri("https://b:2/custom"), traces.Endpoint);
    }

    [Theory]
    [InlineData(MeshTracing.EndpointVariable, "127.0.0.1:4318", "not an absolute http")]
    [InlineData(MeshTracing.EndpointVariable, "file:///etc/passwd", "not an absolute http")]
    [InlineData(MeshTracing.ProtocolVariable, "http/json", "not supported")]
    public void A_bad_setting_is_refused_with_the_variable_named(string variable, string value, string message)
    {
        var env = variable == MeshTracing.EndpointVariable ? Env((variable, value)) : Env((MeshTracing.EndpointVariable, "http://127.0.0.1:1"), (variable, value));
        var e = Assert.Throws<ArgumentException>(() => MeshTracing.ExportSettings.From(env));
        Assert.Contains(variable, e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_data_path_propagates_the_traceparent_alone()
    {
        using var activity = new Activity("t").SetIdFormat(ActivityIdFormat.W3C);
        activity.TraceStateString = "vendor=secret";
        activity.AddBaggage("user", "alice");
        activity.Start();
        var headers = new Dictionary<string, string>();
        TraceparentPropagator.Instance.Inject(activity, headers, (carrier, key, value) => ((Dictionary<string, string>)carrier!)[key] = value!);
        Assert.Equal(["traceparent"], headers.Keys);
        Assert.Equal(activity.Id, headers["traceparent"]);
    }
}
