print("painface")
