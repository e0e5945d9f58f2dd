namespace InfraMind.Cli;

/// <summary>Where a running local gateway (`infra mesh up`, `infra gateway serve`) listens, so `publish` can print the full endpoint URL.</summary>
internal static class GatewayAnnouncement
{
    public static string File(InfraHome home) => Path.Combine(home.Root, "run", "gateway.url");

    public static Uri? Read(InfraHome home)
    {
        var file = File(home);
        return System.IO.File.Exists(file) && Uri.TryCreate(System.IO.File.ReadAllText(file).Trim(), UriKind.Absolute, out var uri) ? uri : null;
    }

    public static void Write(InfraHome home, Uri address)
    {
        var file = File(home);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        System.IO.File.WriteAllText(file, address.ToString());
    }
}
