from zhenxi_common.testing import ServiceShapeContract


class TestServiceShape(ServiceShapeContract):
    service = "nlp"
