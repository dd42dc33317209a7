namespace DeepTrain.Tests.Infrastructure;

/// <summary>The repository's folders, for tests that read its sources (the family map, the error model).</summary>
internal static class RepoPaths
{
    /// <summary>The folder holding DeepTrain.sln, found above the test binaries.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "DeepTrain.sln"))) return d.FullName;
        throw new InvalidOperationException("DeepTrain.sln not found above " + AppContext.BaseDirectory);
    }
}
