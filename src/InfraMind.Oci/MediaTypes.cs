namespace InfraMind.Oci;

/// <summary>Media types of the OCI image spec and of Docker's v2 schema 2, which engines still emit.</summary>
public static class MediaTypes
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayerTar = "application/vnd.oci.image.layer.v1.tar";
    public const string OciLayerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string OciLayerTarZstd = "application/vnd.oci.image.layer.v1.tar+zstd";

    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayerTarGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string DockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";

    public static bool IsManifest(string mediaType) => mediaType is OciManifest or DockerManifest;

    public static bool IsIndex(string mediaType) => mediaType is OciIndex or DockerManifestList;

    public static bool IsLayer(string mediaType) =>
        mediaType is OciLayerTar or OciLayerTarGzip or OciLayerTarZstd or DockerLayerTar or DockerLayerTarGzip;
}
