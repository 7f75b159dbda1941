@_exported import SolidReactor
