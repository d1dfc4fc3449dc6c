"""cityops — smart city-management dispatch platform (智慧城管可视化执法调度平台)."""

__version__ = "0.1.0"
