"""unittest -> TAP, for tests/run.py.

Usage at the end of a test module:

    if __name__ == "__main__":
        tap.main()

Every test method is one TAP line; a test that uses self.subTest() gives
one line per subtest instead (table-driven tests name every case).
self.skipTest() becomes "# SKIP reason".
"""
import sys
import traceback
import unittest


class _Result(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0
        self.failed = 0
        self._had_sub = set()

    def _line(self, ok, name, diag=None, directive=""):
        self.n += 1
        if not ok:
            self.failed += 1
        print("%sok %d - %s%s" % ("" if ok else "not ", self.n, name, directive))
        if diag:
            for l in diag.rstrip().splitlines()[-40:]:
                print("#   " + l)
        sys.stdout.flush()

    @staticmethod
    def _name(test):
        # A failing setUpClass/setUpModule arrives as an _ErrorHolder,
        # which has a description but no test method.
        method = getattr(test, "_testMethodName", None)
        if method is None:
            return str(test)
        return "%s.%s" % (type(test).__name__, method)

    def addSubTest(self, test, subtest, err):
        self._had_sub.add(test.id())
        desc = subtest._subDescription()
        name = "%s %s" % (self._name(test), desc)
        if err is None:
            self._line(True, name)
        else:
            self._line(False, name, "".join(traceback.format_exception(*err)))

    def addSuccess(self, test):
        if test.id() not in self._had_sub:
            self._line(True, self._name(test))

    def addFailure(self, test, err):
        self._line(False, self._name(test), "".join(traceback.format_exception(*err)))

    def addError(self, test, err):
        self._line(False, self._name(test), "".join(traceback.format_exception(*err)))

    def addSkip(self, test, reason):
        self._line(True, self._name(test), directive=" # SKIP %s" % reason)

    def addExpectedFailure(self, test, err):
        self._line(True, self._name(test), directive=" # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        self._line(False, self._name(test), "unexpected success")


def main(module="__main__"):
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module])
    result = _Result()
    suite.run(result)
    print("1..%d" % result.n)
    sys.exit(1 if result.failed else 0)
