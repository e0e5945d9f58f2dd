using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace InfraMind.Serving.Grpc;

/// <summary>
/// The protocol's descriptors (inference V2 and grpc.health.v1) as a FileDescriptorSet in protobuf's JSON form. Model
/// packages load it at run time (Python: <c>json_format.Parse</c> + <c>message_factory.GetMessages</c>) instead of
/// generated code, because Debian's protoc is too old for the protobuf runtime beside it; one source, the .proto here.
/// </summary>
public static class ProtocolDescriptors
{
    /// <summary>The file a package ships them in.</summary>
    public const string FileName = "inference_v2.json";

    public static string Json()
    {
        var set = new FileDescriptorSet();
        foreach (var file in new[] { V2.GrpcPredictV2Reflection.Descriptor, global::Grpc.Health.V1.HealthReflection.Descriptor })
            set.File.Add(FileDescriptorProto.Parser.ParseFrom(file.SerializedData));
        return new JsonFormatter(JsonFormatter.Settings.Default.WithIndentation()).Format(set) + "\n";
    }
}
