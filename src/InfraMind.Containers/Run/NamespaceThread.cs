using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Containers.Run;

/// <summary>
/// A thread of this process that lives in a container's network namespace for the container's whole life and does one
/// thing there: create sockets. A socket keeps the namespace it was created in, so the socket it hands out connects to
/// the container's own loopback from any thread — that is how InfraMind reaches a model that has no network at all.
/// </summary>
/// <remarks>
/// Why a thread that never comes back rather than one that enters, creates a socket and returns: a thread that failed
/// to switch back would run the rest of the process's work in a model's namespace. This one never runs anything but
/// its own loop (every completion it signals resumes its waiter on the thread pool), and it ends with the container.
/// .NET has no API to enter a namespace, hence the one P/Invoke (setns(2), Linux only).
/// </remarks>
internal sealed partial class NamespaceThread : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private const int Eperm = 1;
    private readonly BlockingCollection<TaskCompletionSource<Socket>> _requests = new();

    private NamespaceThread(IReadOnlyList<string> interfaces)
    {
        Interfaces = interfaces;
    }

    /// <summary>The names of the network interfaces the thread sees inside the namespace (a model's: only <c>lo</c>).</summary>
    public IReadOnlyList<string> Interfaces { get; private set; }

    /// <summary>True when the namespace has its loopback and nothing else: nothing in it can reach another host or namespace.</summary>
    public bool LoopbackOnly { get; private set; }

    /// <summary>
    /// Starts a thread, moves it into the network namespace <paramref name="netns"/> (an open <c>/proc/PID/ns/net</c>)
    /// and lists what it sees there. The handle may be closed once this returns: the thread holds the namespace.
    /// </summary>
    /// <exception cref="NamespaceEntryException">setns(2) refused (no CAP_SYS_ADMIN, not a network namespace).</exception>
    public static Task<NamespaceThread> EnterAsync(SafeFileHandle netns, string name)
    {
        ArgumentNullException.ThrowIfNull(netns);
        var entered = new TaskCompletionSource<NamespaceThread>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => Run(netns, entered)) { IsBackground = true, Name = name };
        thread.Start();
        return entered.Task;
    }

    /// <summary>A new, unconnected TCP socket of the namespace (IPv4).</summary>
    public Task<Socket> CreateSocketAsync()
    {
        var request = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _requests.Add(request);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            throw new ObjectDisposedException(nameof(NamespaceThread), "the container's namespace was released");
        }

        return request.Task;
    }

    /// <summary>Lets the thread end; the namespace goes with the container once nothing else holds it.</summary>
    public void Dispose()
    {
        try
        {
            _requests.CompleteAdding();
        }
        catch (ObjectDisposedException)
        {
            // The thread has ended already.
        }
    }

    private static void Run(SafeFileHandle netns, TaskCompletionSource<NamespaceThread> entered)
    {
        NamespaceThread self;
        try
        {
            var success = false;
            netns.DangerousAddRef(ref success);
            try
            {
                if (SetNs(netns.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    entered.SetException(new NamespaceEntryException(errno, errno == Eperm
                        ? "setns(2) was refused (EPERM): entering another network namespace needs CAP_SYS_ADMIN; run InfraMind as root on the engine's host"
                        : $"setns(2) failed with errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)})"));
                    return;
                }
            }
            finally
            {
                if (success) netns.DangerousRelease();
            }

            // /proc/thread-self/net is the network namespace of the thread that reads it: this one's, now the container's.
            var interfaces = InterfacesOf(File.ReadAllText("/proc/thread-self/net/dev"));
            self = new NamespaceThread(interfaces) { LoopbackOnly = interfaces is ["lo"] };
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever it is (no setns on this OS, no netlink), it must reach the caller: an exception that escapes a
            // thread ends the process.
            entered.SetException(new NamespaceEntryException(0, $"cannot enter the container's network namespace: {e.Message}"));
            return;
        }

        entered.SetResult(self);
        foreach (var request in self._requests.GetConsumingEnumerable())
        {
            try
            {
                request.SetResult(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                request.SetException(e);
            }
        }

        self._requests.Dispose();
    }

    /// <summary>The interface names of a /proc/net/dev listing (two header lines, then "name: counters" per interface).</summary>
    internal static IReadOnlyList<string> InterfacesOf(string procNetDev) =>
        [.. procNetDev.Split('\n').Skip(2).Select(l => l.Split(':', 2)).Where(p => p.Length == 2).Select(p => p[0].Trim()).Order(StringComparer.Ordinal)];

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}

/// <summary>This process could not enter a container's network namespace.</summary>
internal sealed class NamespaceEntryException(int errno, string message) : Exception(message)
{
    public int Errno { get; } = errno;
}
