// swift-tools-version:6.0
import PackageDescription

// Benchmarks live in their own package so benchmark-only dependencies never enter the library's graph.
let package = Package(
    name: "SolidIPCBenchmarks",
    dependencies: [
        .package(name: "SolidIPC", path: ".."),
    ],
    targets: [
        .target(name: "CAllocationCounter"),
        .executableTarget(
            name: "EngineBench",
            dependencies: [
                "CAllocationCounter",
                .product(name: "SolidEngine", package: "SolidIPC"),
                .product(name: "SolidIPCSnappy", package: "SolidIPC"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "ReactorBench",
            dependencies: [.product(name: "SolidReactor", package: "SolidIPC")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
