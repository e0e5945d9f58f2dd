namespace InfraMind.Cli;

/// <summary>
/// The one directory for keys, config, the local content store and registry data: INFRAMIND_HOME, else ~/.inframind.
/// </summary>
public sealed record InfraHome(string Root)
{
    public const string Variable = "INFRAMIND_HOME";

    public string Keys => Path.Combine(Root, "keys");

    public string Store => Path.Combine(Root, "store");

    public string Registry => Path.Combine(Root, "registry");

    public string Config => Path.Combine(Root, "config.json");

    /// <summary>Registry keys pinned on first use and the latest checkpoint seen of each registry (<see cref="Registry.Trust.RegistryTrust"/>).</summary>
    public string RegistryTrust => Path.Combine(Root, "trust", "registries");

    /// <summary>The mesh token `infra gateway serve` admits nodes with, and `infra node serve` sends (<see cref="Node.Protocol.MeshToken"/>).</summary>
    public string NodeToken => Path.Combine(Root, "mesh", "node-token");

    /// <summary>Where `infra node serve` keeps the credential its gateway issued to node <paramref name="id"/> (owner-only).</summary>
    /// <summary>The keys `infra mesh up` makes for its own gateway and nodes (apart from the publishers' keys in <see cref="Keys"/>).</summary>
    public string MeshKeys => Path.Combine(Root, "mesh", "keys");

    /// <summary>
    /// Where a serving command keeps its self-signed TLS certificate with its key (<see cref="Serving.Tls.MeshTls"/>;
    /// owner-only, PKCS#12): <c>mesh/tls/ID.pfx</c> for node ID, <c>mesh/tls/gateway.pfx</c> for the gateway.
    /// </summary>
    public string TlsCertificate(string name) => Path.Combine(Root, "mesh", "tls", name + ".pfx");

    /// <summary>
    /// Where the gateway on <paramref name="port"/> keeps the node ids it bound (<see cref="Gateway.GatewayOptions.NodeBindingsFile"/>),
    /// so its restart frees none: <c>mesh/gateways/PORT.nodes.json</c>. Null for port 0: a gateway on a port picked
    /// anew each run is a new gateway to its nodes, which reach it at another address.
    /// </summary>
    public string? GatewayNodeBindings(int port) => port == 0 ? null : Path.Combine(Root, "mesh", "gateways", port.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".nodes.json");

    public string NodeCredential(string id) => Path.Combine(Root, "mesh", "nodes", id + ".credential");

    /// <summary>Where this home's nodes record the version each image they name was last run from (<see cref="Node.NodeOptions.ImageRecordDirectory"/>).</summary>
    public string NodeImageRecords => Path.Combine(Root, "mesh", "images");

    /// <summary>InfraMind's record of the images it built, by build context: the only images `infra test` reuses (<see cref="Conformance.ImageIndex"/>).</summary>
    public string ImageIndex => Path.Combine(Root, "cache", "images");

    public static InfraHome Resolve(IReadOnlyDictionary<string, string?> environment)
    {
        if (environment.TryGetValue(Variable, out var home) && !string.IsNullOrWhiteSpace(home))
            return new InfraHome(Path.GetFullPath(home));
        var user = environment.TryGetValue("HOME", out var h) && !string.IsNullOrEmpty(h)
            ? h
            : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return new InfraHome(Path.Combine(user, ".inframind"));
    }

    /// <summary>Creates a subdirectory readable only by its owner (keys and registry data live here).</summary>
    public static string Ensure(string path)
    {
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }
}
