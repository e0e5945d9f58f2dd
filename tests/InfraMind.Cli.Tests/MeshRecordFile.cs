using System.Runtime.InteropServices;

namespace InfraMind.Cli.Tests;

/// <summary>
/// `$INFRAMIND_HOME/run/mesh.pid` as a test writes it (a stand-in's PID, a dead one's, another start time) and the
/// start time it holds, read from /proc apart from the code under test (MeshDownTests, MeshUpTests).
/// </summary>
internal static class MeshRecordFile
{
    public static string PathIn(string home) => Path.Combine(home, "run", "mesh.pid");

    public static void Write(string home, int pid, string startTime)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(PathIn(home))!);
        File.WriteAllText(PathIn(home), $"{pid} {startTime}\n");
    }

    /// <summary>/proc/PID/stat's field 22.</summary>
    public static string StartTime(int pid)
    {
        Assert.True(RuntimeInformation.IsOSPlatform(OSPlatform.Linux), "these tests read /proc");
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
    }
}
