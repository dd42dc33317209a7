namespace DeepTrain.Interop.Tests;

/// <summary>The kernel library's glibc floor, checked on version strings (no old glibc needed).</summary>
public sealed class GlibcTests
{
    [Theory]
    [InlineData("2.31", true)]      // Debian 11, Ubuntu 20.04
    [InlineData("2.33", true)]
    [InlineData("2.9", true)]       // numeric, not text, comparison: 9 < 34
    [InlineData("2.34", false)]
    [InlineData("2.34.1", false)]
    [InlineData("2.35-0ubuntu3", false)]   // a distribution's tag after the version
    [InlineData("2.36", false)]     // Debian 12
    [InlineData("3.0", false)]
    [InlineData("1.99", true)]
    public void IsOlder_ComparesTheNumericParts(string version, bool older) =>
        Assert.Equal(older, Glibc.IsOlder(version, Glibc.KernelLibraryFloor));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("musl")]
    [InlineData("2.x")]
    public void AnUnreadableVersion_IsNeverOlder(string? version) => Assert.False(Glibc.IsOlder(version, "2.34"));

    [Fact]
    public void FloorProblem_SaysItInWords_OnlyWhenOlder()
    {
        string? problem = Glibc.FloorProblem("2.31");
        Assert.NotNull(problem);
        Assert.Contains("glibc 2.31 is older than 2.34", problem);
        Assert.Contains("libdeeptrain_kernels.so", problem);
        Assert.Null(Glibc.FloorProblem("2.36"));
        Assert.Null(Glibc.FloorProblem(null));
    }

    [Fact]
    public void KernelLoadHint_MentionsTheFloor_WhenTheLoaderNamesGlibc()
    {
        const string loader = "libdeeptrain_kernels.so: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by libdeeptrain_kernels.so)";
        string? hint = Glibc.KernelLoadHint(loader, hostVersion: null);
        Assert.NotNull(hint);
        Assert.Contains("glibc 2.34 or newer", hint);
        Assert.Null(Glibc.KernelLoadHint("libdeeptrain_kernels.so: cannot open shared object file", "2.36"));
        Assert.Contains("2.31 is older than 2.34", Glibc.KernelLoadHint("cannot open shared object file", "2.31"));
    }

    [Fact]
    public void HostVersion_IsReadOnGlibcLinux()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("glibc is Linux-only");
        string? v = Glibc.HostVersion();
        if (v is null) Assert.Skip("this Linux has no glibc (musl?)");
        Assert.Matches(@"^\d+\.\d+", v);
    }
}
