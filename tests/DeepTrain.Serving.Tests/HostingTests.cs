using DeepTrain.Hosting;
using DeepTrain.Inference;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace DeepTrain.Serving.Tests;

/// <summary>services.AddDeepTrainInference(): one session or a named set, singletons the container disposes.</summary>
public sealed class HostingTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public void NamedSessions_LoadOnceEach_AndTheUnnamedOneIsInjectable()
    {
        var services = new ServiceCollection();
        services.AddDeepTrainInference(service.Checkpoint)
            .FromCheckpoint("small", service.Checkpoint, r => r.Session = r.Session with { MaxBatchSize = 2, MaxConcurrency = 1 });
        InferenceSession small;
        using (var provider = services.BuildServiceProvider())
        {
            var pool = provider.GetRequiredService<InferenceSessionPool>();
            Assert.Equal(["", "small"], pool.Names.Order());
            small = pool.GetSession("small");
            Assert.Same(small, pool.GetSession("small"));
            Assert.Equal(2, small.MaxBatchSize);
            var unnamed = provider.GetRequiredService<InferenceSession>();
            Assert.Same(pool.GetSession(), unnamed);
            Assert.NotSame(small, unnamed);
            var e = Assert.Throws<ArgumentException>(() => pool.GetSession("large"));
            Assert.Contains("no DeepTrain inference session is registered as 'large'; registered: ''", e.Message);
        }
        // The container disposed the pool, and the pool its sessions.
        Assert.Throws<ObjectDisposedException>(() => small.Run(new float[64], new float[4]));
    }

    [Fact]
    public void RegisteringANameTwice_IsRefused()
    {
        var builder = new ServiceCollection().AddDeepTrainInference().FromCheckpoint("a", service.Checkpoint);
        var e = Assert.Throws<ArgumentException>(() => builder.Services.AddDeepTrainInference().FromCheckpoint("a", service.Checkpoint));
        Assert.Contains("already registered as 'a'", e.Message);
    }
}
