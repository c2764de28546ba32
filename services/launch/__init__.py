"""The launcher behind ``python -m services`` (``just serve``); ``services.launch.stack`` runs it.

One concern a module, lowest first: ``console`` (printing for the user), ``errors``, ``settings`` (the launcher's
own ``PP_*`` variables); ``processes`` (children, stop signals, death with the launcher) and ``ports``; ``redis``
(which Redis the services get) and ``readiness`` (waiting for ``/ready``); ``stack`` (the run sequence, the banner).
"""
